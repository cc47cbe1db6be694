"""Training speed: the engine's fast path against the usual eager fp32 loop, same run.

    python benchmarks/speed.py                       # resnet20 + the six paper nets
    python benchmarks/speed.py --full resnet20       # also time the real 164-epoch recipe
    python benchmarks/speed.py --models resnet20 --steps 50 --out benchmarks/results

Both modes run the engine's own training step (cifarnets.train) on CIFAR-sized batches
of 128: "eager fp32" is the ordinary PyTorch loop (fp32, NCHW, one launch per kernel);
"fast" is what `benchmarks/reproduce.py` uses on CUDA (the whole step replayed from a
CUDA graph, bf16 autocast, channels_last). "side by side" replays every net's graph on
its own stream in one round, as reproduce.py does when it trains several nets at once.

Projected times are ms/step x 164 epochs x 391 steps (evaluation excluded); --full
trains for real and reports the wall-clock time. Targets (one H100): ResNet-20 full
recipe <= 60 s; the six paper nets together <= 10 min. On a CPU only the eager mode
exists (CUDA graphs need CUDA), and the table says so.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

from cifarnets.reference import PAPER_SIX
from cifarnets.train import TrainConfig, _Run, _Split, environment, train

# Steps of the full recipe on CIFAR-10: 164 epochs x 391 batches of 128.
STEPS_PER_RUN = TrainConfig().epochs * math.ceil(50_000 / TrainConfig().batch_size)


def _synthetic_split(n: int, device: torch.device, seed: int = 0) -> _Split:
    # Speed does not depend on pixel values; random uint8 images need no data set.
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    return _Split(images.to(device), labels.to(device))


def time_round(models: list[str], device: torch.device, *, fast: bool, steps: int,
               warmup: int = 5) -> float:
    """Seconds per round (one step of each net), with all nets side by side."""
    train_split = _synthetic_split(128 * (steps + warmup + 1), device)
    test_split = _synthetic_split(256, device)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            _Run(TrainConfig(model=m, precision="bf16" if fast else "fp32",
                             channels_last=fast, cuda_graph=fast),
                 train_split, test_split, device, Path(tmp))
            for m in models
        ]
        for run in runs:
            run.begin_epoch()
        for i in range(warmup):
            for run in runs:
                run.step(i)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for i in range(warmup, warmup + steps):
            for run in runs:
                run.step(i)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=PAPER_SIX)
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per measurement (default: 200 on CUDA, 5 on CPU)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--full", nargs="*", default=None, metavar="NAME",
                        help="also train these nets with the full recipe and time them")
    parser.add_argument("--data", type=Path, default=None, help="data root (for --full)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write speed.json and speed.md here, with the command")
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = device.type == "cuda"
    steps = args.steps or (200 if cuda else 5)
    command = " ".join(["python", "benchmarks/speed.py", *(argv or sys.argv[1:])])

    rows, results = [], {"environment": environment(device, command), "per_net": {}}
    for model in args.models:
        eager = time_round([model], device, fast=False, steps=steps)
        fast = time_round([model], device, fast=True, steps=steps) if cuda else None
        results["per_net"][model] = {"eager_fp32_ms": eager * 1e3,
                                     "fast_ms": fast * 1e3 if fast else None}
        best = fast or eager
        rows.append(
            f"| {model} | {eager * 1e3:.2f} | "
            f"{f'{fast * 1e3:.2f}' if fast else 'n/a (needs CUDA)'} | "
            f"{f'{eager / fast:.1f}x' if fast else '-'} | {best * STEPS_PER_RUN:.0f} s |"
        )
    lines = ["| net | eager fp32 ms/step | fast ms/step | speedup | projected 164 epochs |",
             "|---|---|---|---|---|", *rows]
    if len(args.models) > 1:
        sequential = sum((v["fast_ms"] or v["eager_fp32_ms"]) for v in results["per_net"].values())
        together = time_round(args.models, device, fast=cuda, steps=steps) * 1e3
        results["side_by_side_ms_per_round"] = together
        results["sequential_ms_per_round"] = sequential
        lines.append(f"| all {len(args.models)} side by side | | {together:.2f} per round | "
                     f"{sequential / together:.1f}x vs one after another | "
                     f"{together / 1e3 * STEPS_PER_RUN:.0f} s |")
    per_net = results["per_net"]
    if not cuda:
        lines.append("\ntargets are for one H100 and need the CUDA path: not checked on a CPU")
    else:
        if "resnet20" in per_net:
            projected = per_net["resnet20"]["fast_ms"] / 1e3 * STEPS_PER_RUN
            lines.append(f"\nResNet-20 projected {projected:.0f} s vs target 60 s: "
                         f"{'met' if projected <= 60 else 'MISSED'}")
        if set(PAPER_SIX) <= set(args.models) and len(args.models) == len(PAPER_SIX):
            projected = results["side_by_side_ms_per_round"] / 1e3 * STEPS_PER_RUN
            lines.append(f"six paper nets side by side projected {projected:.0f} s vs target "
                         f"600 s: {'met' if projected <= 600 else 'MISSED'}")
    if args.full:
        with tempfile.TemporaryDirectory() as tmp:
            for model in args.full:
                start = time.perf_counter()
                summary = train(TrainConfig(model=model, checkpoint_every=1000),
                                data_root=args.data, out_dir=tmp, device=device,
                                command=command)[0]
                wall = time.perf_counter() - start
                results.setdefault("full", {})[model] = {
                    "wall_s": wall, "final_test_error": summary["final_test_error"]}
                lines.append(f"\nfull recipe, {model}: {wall:.1f} s wall-clock, final test "
                             f"error {summary['final_test_error']:.2f} %")
    env = results["environment"]
    lines.insert(0, f"{env['hardware']}, torch {env['torch']}, {steps} timed steps; "
                    f"targets: ResNet-20 full recipe <= 60 s, six paper nets <= 600 s\n")
    text = "\n".join(lines) + f"\n\ncommand: {command}\n"
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        tag = "cuda" if cuda else "cpu"
        (args.out / f"speed-{tag}.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.out / f"speed-{tag}.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
