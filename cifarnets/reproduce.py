"""Retrain the nets of the report with its recipe, in resumable chunks, and verify the
published test errors: ``cifarnets train``, and in a checkout
``python benchmarks/reproduce.py``, the same program with the same options.

    cifarnets train                                      # the six paper nets, report recipe
    cifarnets train --models resnet20 plain20 --max-minutes 60   # one chunk of <= 60 min
    cifarnets train --models resnet83 resnet164 plain83 plain164
    cifarnets train --seeds 0 1 2 --verify               # exit 1 on a miss
    cifarnets train --smoke                              # a minutes-long pipeline check
    torchrun --nproc-per-node 8 -m cifarnets train ...   # one shard of runs per rank

The recipe (``cifarnets.training.RECIPES["report"]``) is the report's: SGD momentum 0.9,
batch 128, 164 epochs, lr 0.1 divided by 10 at epochs 81 and 122, weight decay 1e-4,
pad-4 crop + flip, kaiming-normal init; the paper's 110-layer nets warm up at lr 0.01
until the training error is below 80 % (He et al. 2015, sec. 4.2). Changing any of it
(--epochs, --lr, ...) gives a recipe of its own name (report+<hash>), in its own folders.

Every run writes OUT/<model>-<dataset>-<recipe>-s<seed>/: log.csv (per epoch),
chunks.json (per chunk: epochs added, machine, executor), checkpoint.safetensors (while
unfinished; small, meant to be committed), then weights.safetensors and summary.json.
Each call is one chunk: it continues every unfinished run from its checkpoint, on any
machine and with any --device/--executor/--precision, and stops cleanly at an epoch
boundary (--max-minutes, Ctrl-C, SIGTERM). Re-running the same command continues;
finished runs are never retrained or overwritten. When every run has finished, OUT
gets table1.md (measured vs the report vs the paper, a verdict per row),
fig5_train_loss.png, fig6_test_error.png and results.json.

On CUDA each run keeps CIFAR on the GPU as uint8, augments there, replays its whole step
from a CUDA graph in bf16/channels_last, and all runs train side by side on their own
streams. On a CPU the fastest measured executor is the default (speed-cpu.md).

--verify passes a net when its final-epoch error (mean over seeds) is at most its target
plus two seed-to-seed standard deviations (0.2 points each: 0.4 for one seed,
0.4/sqrt(n) for n), and checks that the plain nets get worse with depth and that each
plain net is worse than the ResNet of its depth. Nets without a
published target (plain110, plain164, ...) are reported, not judged.

Exit status (as for every cifarnets command): 0 done (and verified, with --verify);
1 --verify found a miss; 2 a usage or input error (nothing was trained); 3 the machine
lacks something (no network for --download, no such device); 4 stopped before every run
finished (time budget or signal): run the same command again to continue.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import torch

from . import _exit
from ._argtypes import positive_int
from ._registry import list_models, model_info
from .data import default_data_root, load_split
from .errors import CifarnetsError
from .reference import PAPER_SIX
from .report import plot_curves, rows_from_results, table1_markdown, verify
from .training import EXECUTORS, RECIPES, RunSpec, Runtime, get_recipe, read_result, train
from .training.results import RunResult

# How the user started this program, for the commands recorded with every result.
_COMMANDS = {"cifarnets train": "cifarnets train", "reproduce.py": "python benchmarks/reproduce.py"}
SMOKE_SUBSETS = dict(train_subset=512, test_subset=256)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"nets to train (default: {' '.join(PAPER_SIX)}); any of: {' '.join(list_models())}",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--dataset", default="cifar10", choices=["cifar10", "cifar100"])
    parser.add_argument(
        "--data",
        type=Path,
        default=default_data_root(),
        metavar="ROOT",
        help="data root in torchvision's layout (default: %(default)s)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="download the data set into --data first if it is missing",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results folder (default: runs/reproduce; runs/smoke with --smoke)",
    )
    recipe = parser.add_argument_group(
        "recipe (default: the report's; any change makes a recipe of its own name)"
    )
    recipe.add_argument("--recipe", default="report", choices=sorted(RECIPES))
    recipe.add_argument("--epochs", type=int, default=None)
    recipe.add_argument("--lr", type=float, default=None)
    recipe.add_argument("--milestones", type=int, nargs="+", default=None)
    recipe.add_argument("--weight-decay", type=float, default=None)
    recipe.add_argument("--batch-size", type=int, default=None)
    recipe.add_argument(
        "--warmup",
        choices=["auto", "on", "off"],
        default="auto",
        help="lr 0.01 until training error < 80%%; auto: the paper's nets of 110 layers and more",
    )
    recipe.add_argument(
        "--train-subset",
        type=int,
        default=None,
        metavar="N",
        help="train on the first N images only (not the recipe)",
    )
    recipe.add_argument("--test-subset", type=int, default=None, metavar="N")
    speed = parser.add_argument_group("runtime (speed only: may change between chunks)")
    speed.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 (default: cuda if any)")
    speed.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="auto: bf16 on CUDA and on CPUs with bf16 instructions (AVX512_BF16, AMX), else fp32",
    )
    speed.add_argument(
        "--executor",
        choices=["auto", *EXECUTORS],
        default="auto",
        help="how a step runs (auto: cuda_graph on CUDA, the fastest measured "
        "on a CPU); --no-cuda-graph = --executor eager",
    )
    speed.add_argument("--no-cuda-graph", action="store_true", help=argparse.SUPPRESS)
    speed.add_argument("--no-channels-last", action="store_true")
    speed.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    speed.add_argument(
        "--concurrent",
        type=positive_int,
        default=None,
        metavar="N",
        help="runs trained side by side per process (default: all)",
    )
    speed.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        metavar="M",
        help="stop at the last epoch boundary before M minutes (a chunk)",
    )
    speed.add_argument(
        "--checkpoint-every-s",
        type=float,
        default=60.0,
        metavar="S",
        help="checkpoint at the end of an epoch when S seconds have passed "
        "since the last one (default: %(default)s); always at a stop",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a CPU-sized check of the whole pipeline: the smoke recipe "
        "(2 epochs) on 512 images, resnet20 and plain20 unless --models "
        "is given, into runs/smoke",
    )
    parser.add_argument(
        "--verify", action="store_true", help="exit 1 unless every net reaches its target"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="no training: rebuild the table and figures from OUT",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    return parser


def parse_args(argv: list[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.models is None:
        args.models = ["resnet20", "plain20"] if args.smoke else list(PAPER_SIX)
    if args.out is None:
        args.out = Path("runs/smoke" if args.smoke else "runs/reproduce")
    if args.no_cuda_graph:
        args.executor = "eager"
    return args


def make_specs(args: argparse.Namespace) -> list[RunSpec]:
    base = get_recipe("smoke" if args.smoke else args.recipe)
    changes = {
        k: v
        for k, v in dict(
            epochs=args.epochs,
            lr=args.lr,
            weight_decay=args.weight_decay,
            batch_size=args.batch_size,
            milestones=tuple(args.milestones) if args.milestones is not None else None,
        ).items()
        if v is not None
    }
    if (
        args.epochs is not None
        and args.milestones is None
        and any(m >= args.epochs for m in base.milestones)
    ):
        raise ValueError(
            f"--epochs {args.epochs} ends before the {base.name} recipe's lr "
            f"milestones {base.milestones}: pass --milestones too (epochs at "
            f"which the lr drops, each below {args.epochs})"
        )
    if args.warmup != "auto":
        changes["warmup_min_depth"] = 1 if args.warmup == "on" else None
    recipe = base.with_changes(**changes)
    subsets = dict(SMOKE_SUBSETS) if args.smoke else {}
    for key in ("train_subset", "test_subset"):
        if getattr(args, key) is not None:
            subsets[key] = getattr(args, key)
    for name in args.models:
        model_info(name)  # an unknown name fails here, with the closest match
    return [
        RunSpec(name, dataset=args.dataset, recipe=recipe, seed=seed, **subsets)
        for name in args.models
        for seed in args.seeds
    ]


def make_runtime(args: argparse.Namespace) -> Runtime:
    return Runtime(
        device=args.device,
        precision=args.precision,
        executor=args.executor,
        channels_last=not args.no_channels_last,
        threads=args.threads,
        checkpoint_every_s=args.checkpoint_every_s,
        max_minutes=args.max_minutes,
        progress=not args.quiet,
    )


def run_shard(
    specs: list[RunSpec], args: argparse.Namespace, runtime: Runtime, command: str
) -> list[RunResult]:
    concurrent = args.concurrent or len(specs) or 1
    results: list[RunResult] = []
    for start in range(0, len(specs), concurrent):
        results += train(
            specs[start : start + concurrent],
            data_root=args.data,
            out_dir=args.out,
            runtime=runtime,
            command=command,
        )
        if any(r.status == "running" for r in results):
            break  # stopped by the budget or a signal: leave the rest for the next chunk
    return results


def write_report(results: list[RunResult], out: Path) -> list[str]:
    rows = rows_from_results(results)
    table = table1_markdown(rows)
    (out / "table1.md").write_text(table)
    written = [out / "table1.md"]
    if _have_matplotlib():
        written += plot_curves(results, out)
    else:
        print(
            "note: matplotlib is not installed, so the figures were skipped "
            "(pip install 'cifarnets[plots]', then --report-only)"
        )
    slim = [{k: v for k, v in r.to_dict().items() if k != "history"} for r in results]
    (out / "results.json").write_text(json.dumps(slim, indent=2) + "\n")
    written.append(out / "results.json")
    print(table)
    print("wrote " + ", ".join(str(p) for p in written))
    return verify(rows)


def _have_matplotlib() -> bool:
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except ValueError:  # sys.modules["matplotlib"] is None: imports of it are blocked
        return False


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv, prog)
    command = " ".join([_COMMANDS.get(prog, "python -m cifarnets.reproduce"), *argv])
    # What trains the unfinished runs: this command, less --report-only.
    continue_with = " ".join(
        [
            _COMMANDS.get(prog, "python -m cifarnets.reproduce"),
            *(a for a in argv if a != "--report-only"),
        ]
    )
    try:
        specs = make_specs(args)
        runtime = make_runtime(args)
        runtime.resolved()  # a device or executor this machine lacks fails here
    except (CifarnetsError, ValueError) as err:
        return _exit.report(err)
    if not _have_matplotlib() and not args.report_only:
        print(
            "note: matplotlib is not installed: the runs will train and the table will be "
            "written, the figures skipped (pip install 'cifarnets[plots]')",
            file=sys.stderr,
        )

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and args.device == "auto" and torch.cuda.is_available():
        runtime = Runtime(
            **{**runtime.to_dict(), "device": f"cuda:{os.environ.get('LOCAL_RANK', '0')}"}
        )
    try:
        if args.download and not args.report_only and rank == 0:
            load_split(args.dataset, args.data, train=True, download=True)
        if args.report_only:
            results = _read_results(specs, args.out)
        elif world > 1:
            results = _sharded(specs, args, runtime, command, rank, world)
            if results is None:
                return _exit.OK
        else:
            results = run_shard(specs, args, runtime, command)
    except (CifarnetsError, ValueError) as err:
        return _exit.report(err)
    except KeyboardInterrupt:  # a second Ctrl-C / SIGTERM: abort now, not a crash
        print(
            "aborted: the epoch in progress is lost; each run keeps its last checkpoint "
            f"(a resume reads only that). Continue with:\n  {continue_with}",
            file=sys.stderr,
        )
        return _exit.UNFINISHED

    unfinished = [r for r in results if r.status == "running"]
    if unfinished or (not args.report_only and len(results) < len(specs)):
        for r in results:
            print(
                f"{r.name}: {r.status}, epoch {r.epochs}/{r.spec.recipe.epochs}"
                + (f", test error {r.final_test_error:.2f} %" if r.history else "")
            )
        print(
            f"not finished: {len(unfinished)} run(s) need more chunks. Continue with:\n  "
            f"{continue_with}"
        )
        return _exit.UNFINISHED
    args.out.mkdir(parents=True, exist_ok=True)
    failures = write_report(results, args.out)
    if args.verify:
        if failures:
            print("VERIFY FAILED:\n  " + "\n  ".join(failures))
            return _exit.FAILED
        print("VERIFY PASSED: every net reached its target")
    return _exit.OK


def _read_results(specs: list[RunSpec], out: Path) -> list[RunResult]:
    """--report-only: the results of the runs asked for that OUT holds; the others named."""
    missing = [s.name for s in specs if not (out / s.name / "summary.json").is_file()]
    if len(missing) == len(specs):
        raise ValueError(
            f"{out} holds none of the runs asked for ({', '.join(missing)}): "
            f"check --out, and the options that name runs (--models, --seeds, "
            f"--dataset, the recipe and subset options, --smoke)"
        )
    if missing:
        print(
            f"note: {out} has no results yet for {', '.join(missing)}; the table leaves them out",
            file=sys.stderr,
        )
    return [read_result(out / s.name) for s in specs if s.name not in missing]


def _sharded(specs, args, runtime, command, rank, world) -> list[RunResult] | None:
    """torchrun: rank r trains runs r, r + world, ...; rank 0 gathers (None elsewhere).
    gloo carries the small results (as dicts) whatever the training device."""
    import torch.distributed as dist

    dist.init_process_group("gloo")
    try:
        mine = [r.to_dict() for r in run_shard(specs[rank::world], args, runtime, command)]
        gathered: list[list[dict]] | None = [[] for _ in range(world)] if rank == 0 else None
        dist.gather_object(mine, gathered, dst=0)
        # No rank tears down its gloo transport while rank 0 may still be receiving
        # from it: a rank that left early aborted rank 1 once in CI (SIGABRT).
        dist.barrier()
    finally:
        dist.destroy_process_group()
    if rank != 0:
        return None
    by_name = {d["name"]: RunResult.from_dict(d) for shard in gathered for d in shard}
    return [by_name[s.name] for s in specs if s.name in by_name]


if __name__ == "__main__":
    sys.exit(main())
