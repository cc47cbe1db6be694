"""Retrain the nets of the report with its recipe and verify the published test errors.

    python benchmarks/reproduce.py --data ~/.cache/cifarnets/data            # the six paper nets
    python benchmarks/reproduce.py --models resnet83 resnet164 plain83 plain164
    python benchmarks/reproduce.py --seeds 0 1 2 --verify                    # exit 1 on a miss
    python benchmarks/reproduce.py --smoke                                   # CPU pipeline check
    torchrun --nproc-per-node 8 benchmarks/reproduce.py ...                  # one shard per rank

The recipe (cifarnets.train.TrainConfig) is the report's: SGD momentum 0.9, batch 128,
164 epochs, lr 0.1 divided by 10 at epochs 81 and 122, weight decay 1e-4, pad-4 crop +
flip, kaiming-normal init; the 110-layer nets warm up at lr 0.01 until the training
error is below 80 % (He et al. 2015, sec. 4.2) unless --warmup off.

On CUDA, each run keeps CIFAR on the GPU as uint8, augments there, replays its whole
step from a CUDA graph in bf16/channels_last, and all runs of a rank train at once on
their own streams. On a CPU the same step runs eagerly (hours per net: use --smoke).

Every run writes OUT/<model>-<dataset>-s<seed>/ (log.csv per epoch, weights.safetensors,
config.json, summary.json; checkpoint.pt every --checkpoint-every epochs). Re-running
the same command resumes killed runs and skips finished ones. At the end OUT gets
table1.md (measured vs the report vs the paper, with a verdict per row),
fig5_train_loss.png, fig6_test_error.png and results.json.

--verify exits non-zero unless every net with a target reaches it: final-epoch error
(mean over seeds) <= target + 2 x 0.2 / sqrt(seeds) points (0.2 = the seed-to-seed
spread of these nets), and plain nets degrade with depth. Nets without a published
target (plain110, plain164, ...) are reported, not judged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from cifarnets import list_models, model_info
from cifarnets.data import default_data_root
from cifarnets.reference import PAPER_SIX
from cifarnets.report import plot_curves, rows_from_summaries, table1_markdown, verify
from cifarnets.train import TrainConfig, train

SMOKE = dict(epochs=2, train_subset=512, test_subset=256, milestones=(1,))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--models", nargs="+", default=PAPER_SIX, metavar="NAME",
                        help=f"nets to train (default: {' '.join(PAPER_SIX)}); "
                             f"any of: {' '.join(list_models())}")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--dataset", default="cifar10", choices=["cifar10", "cifar100"])
    parser.add_argument("--data", type=Path, default=default_data_root(), metavar="ROOT",
                        help="data root in torchvision's layout (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("runs/reproduce"),
                        help="results folder (default: %(default)s)")
    recipe = parser.add_argument_group("recipe (defaults: the report's)")
    default = TrainConfig()
    recipe.add_argument("--epochs", type=int, default=default.epochs)
    recipe.add_argument("--lr", type=float, default=default.lr)
    recipe.add_argument("--milestones", type=int, nargs="+", default=list(default.milestones))
    recipe.add_argument("--weight-decay", type=float, default=default.weight_decay)
    recipe.add_argument("--batch-size", type=int, default=default.batch_size)
    recipe.add_argument("--warmup", choices=["auto", "on", "off"], default="auto",
                        help="lr 0.01 until training error < 80%%; auto: the 110-layer nets")
    recipe.add_argument("--train-subset", type=int, default=None, metavar="N",
                        help="train on the first N images only (not the recipe)")
    recipe.add_argument("--test-subset", type=int, default=None, metavar="N")
    speed = parser.add_argument_group("speed (do not change the results' meaning)")
    speed.add_argument("--device", default=None, help="cuda, cuda:1, cpu (default: cuda if any)")
    speed.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    speed.add_argument("--no-cuda-graph", action="store_true",
                       help="run each step eagerly (the slow baseline)")
    speed.add_argument("--concurrent", type=int, default=None, metavar="N",
                       help="runs trained side by side per process (default: all on CUDA, "
                            "1 on CPU)")
    speed.add_argument("--checkpoint-every", type=int, default=default.checkpoint_every)
    parser.add_argument("--smoke", action="store_true",
                        help="a CPU-sized check of the whole pipeline: 2 epochs on 512 "
                             "images, resnet20 and plain20 unless --models is given")
    parser.add_argument("--verify", action="store_true",
                        help="exit 1 unless every net reaches its target")
    parser.add_argument("--report-only", action="store_true",
                        help="no training: rebuild the table and figures from OUT")
    args = parser.parse_args(argv)
    if args.smoke and args.models == PAPER_SIX:
        args.models = ["resnet20", "plain20"]
    for name in args.models:
        model_info(name)  # an unknown name fails here, with the closest match
    return args


def make_configs(args: argparse.Namespace) -> list[TrainConfig]:
    configs = []
    for name in args.models:
        warmup = {"on": True, "off": False}.get(args.warmup, model_info(name).depth == 110)
        fields = dict(
            model=name, dataset=args.dataset, epochs=args.epochs, lr=args.lr,
            milestones=tuple(args.milestones), weight_decay=args.weight_decay,
            batch_size=args.batch_size, warmup=warmup, train_subset=args.train_subset,
            test_subset=args.test_subset, precision=args.precision,
            cuda_graph=not args.no_cuda_graph, checkpoint_every=args.checkpoint_every,
        )
        if args.smoke:
            fields.update(SMOKE)
        configs += [TrainConfig(**fields, seed=seed) for seed in args.seeds]
    return configs


def run_shard(configs: list[TrainConfig], args: argparse.Namespace, device: torch.device,
              command: str) -> list[dict]:
    concurrent = args.concurrent or (len(configs) if device.type == "cuda" else 1)
    summaries = []
    for start in range(0, len(configs), concurrent):
        summaries += train(configs[start:start + concurrent], data_root=args.data,
                           out_dir=args.out, device=device, command=command)
    return summaries


def write_report(summaries: list[dict], out: Path) -> list[str]:
    rows = rows_from_summaries(summaries)
    table = table1_markdown(rows)
    (out / "table1.md").write_text(table)
    plot_curves(summaries, out)
    slim = [{k: v for k, v in s.items() if k != "history"} for s in summaries]
    (out / "results.json").write_text(json.dumps(slim, indent=2) + "\n")
    print(table)
    print(f"wrote {out / 'table1.md'}, {out / 'fig5_train_loss.png'}, "
          f"{out / 'fig6_test_error.png'}, {out / 'results.json'}")
    return verify(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = " ".join(["python", "benchmarks/reproduce.py", *(argv or sys.argv[1:])])
    configs = make_configs(args)
    args.out.mkdir(parents=True, exist_ok=True)

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if args.device:
        device = torch.device(args.device)
    elif torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    else:
        device = torch.device("cpu")

    if args.report_only:
        summaries = [json.loads((args.out / c.name / "summary.json").read_text())
                     for c in configs if (args.out / c.name / "summary.json").is_file()]
    elif world > 1:
        # torchrun: rank r trains runs r, r + world, ...; rank 0 gathers and reports.
        # gloo carries the (small, pickled) summaries whatever the training device.
        dist.init_process_group("gloo")
        try:
            mine = run_shard(configs[rank::world], args, device, command)
            gathered: list[list[dict]] | None = [[] for _ in range(world)] if rank == 0 else None
            dist.gather_object(mine, gathered, dst=0)
        finally:
            dist.destroy_process_group()
        if rank != 0:
            return 0
        summaries = [s for shard in gathered for s in shard]
    else:
        summaries = run_shard(configs, args, device, command)

    failures = write_report(summaries, args.out)
    if args.verify:
        if failures:
            print("VERIFY FAILED:\n  " + "\n  ".join(failures))
            return 1
        print("VERIFY PASSED: every net reached its target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
