"""Training speed of every step executor against the usual eager loop, in one run.

    python benchmarks/speed.py                              # resnet20, this machine's variants
    python benchmarks/speed.py --models resnet20 resnet56 resnet110 --out benchmarks/results
    python benchmarks/speed.py --full resnet20 --data ROOT  # also the real 164-epoch recipe

Each variant trains the engine's own runs (cifarnets.training: TrainingRun, its step
executor, its data path) on CIFAR-sized synthetic batches of 128, so it times exactly
what `cifarnets train` runs (each executor's check against the eager step included, in
the untimed warm-up steps; a variant whose executor fails its check says so in its row).
Variants: "eager fp32 NCHW" (the ordinary PyTorch loop, the baseline), eager
channels_last, torch.compile (NCHW and channels_last), bf16 autocast (fast on CPUs with
bf16 instructions); on CUDA also the whole-step CUDA graph, and all nets side by side
on their own streams. On a CPU without bf16 instructions (AVX512_BF16 or AMX) bf16 is
emulated, about 10x slower than fp32 (6.0 s against 0.57 s per ResNet-20 step on an
AVX2 machine), and "auto" never picks it: those rows are left out unless
--emulated-bf16 asks for them, and then marked. The summary names the fastest variant
in the precision that "auto" trains in, and what "auto" itself runs.
The evaluation of 10,000 test images is timed per net too (the engine does it every
epoch). Projected recipe time = 164 x 391 steps + 164 evaluations, one net alone.

Targets (one H100 GPU): ResNet-20's full recipe <= 60 s; the six paper nets <= 600 s.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from cifarnets.reference import PAPER_SIX
from cifarnets.training import (
    RECIPES,
    DeviceData,
    ExecutorCheckError,
    RunSpec,
    Runtime,
    TrainingRun,
    environment,
    train,
)
from cifarnets.training import spec as training_spec
from cifarnets.training.loader import Split

RECIPE = RECIPES["report"]
STEPS_PER_EPOCH = math.ceil(50_000 / RECIPE.batch_size)
STEPS_PER_RUN = RECIPE.epochs * STEPS_PER_EPOCH

# (label, executor, precision, channels_last); the first is the baseline.
CPU_VARIANTS = [
    ("eager fp32 NCHW", "eager", "fp32", False),
    ("eager fp32 channels_last", "eager", "fp32", True),
    ("compile fp32 NCHW", "compile", "fp32", False),
    ("compile fp32 channels_last", "compile", "fp32", True),
    # bf16 autocast: fast only where the CPU has bf16 instructions (AVX512_BF16, AMX).
    ("eager bf16 channels_last", "eager", "bf16", True),
    ("compile bf16 channels_last", "compile", "bf16", True),
]
CUDA_VARIANTS = [
    *CPU_VARIANTS,
    ("cuda_graph fp32 channels_last", "cuda_graph", "fp32", True),
    ("cuda_graph bf16 channels_last", "cuda_graph", "bf16", True),
]


def synthetic_data(n_train: int, device: torch.device, n_test: int = 10_000) -> DeviceData:
    """Random uint8 images: speed does not depend on pixel values."""
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> Split:
        images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
        return Split(images.to(device), torch.randint(0, 10, (n,), generator=g).to(device))

    return DeviceData(split(n_train), split(n_test))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_round(
    models: list[str], runtime: Runtime, *, steps: int, warmup: int, repeats: int
) -> list[float]:
    """Seconds per round (one step of every net, side by side), one value per repeat."""
    device = torch.device(runtime.device)
    data = synthetic_data(RECIPE.batch_size * (warmup + steps * repeats), device, n_test=1)
    runs = [TrainingRun(RunSpec(m), data, runtime) for m in models]
    steppers = [run.epoch_steps() for run in runs]

    def advance(n: int) -> None:
        for _ in range(n):
            for s in steppers:
                next(s)

    advance(warmup)  # compilation, capture, cuDNN autotuning, allocator warm-up
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        advance(steps)
        _sync(device)
        times.append((time.perf_counter() - start) / steps)
    return times


def time_eval(model: str, runtime: Runtime, n_test: int = 10_000) -> float:
    """Seconds for the engine's evaluation of ``n_test`` images, scaled to 10,000."""
    device = torch.device(runtime.device)
    run = TrainingRun(RunSpec(model), synthetic_data(RECIPE.batch_size, device, n_test), runtime)
    run.queue_evaluation()  # warm-up
    _sync(device)
    start = time.perf_counter()
    run.queue_evaluation()
    int(run.test_correct)
    return (time.perf_counter() - start) * 10_000 / n_test


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="default: the six paper nets on CUDA, resnet20 on a CPU",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps per repeat (default: 200 on CUDA, 10 on a CPU)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--eval-images",
        type=int,
        default=10_000,
        help="images per timed evaluation (scaled to 10,000 in the table)",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--variants",
        nargs="+",
        default=None,
        metavar="LABEL",
        help="only the variants whose label contains one of these words",
    )
    parser.add_argument(
        "--emulated-bf16",
        action="store_true",
        help="on a CPU without bf16 instructions, time the bf16 variants "
        "too (emulated: about 10x slower than fp32; marked so)",
    )
    parser.add_argument(
        "--full",
        nargs="*",
        default=None,
        metavar="NAME",
        help="also train these nets with the full recipe and time them",
    )
    parser.add_argument("--data", type=Path, default=None, help="data root (for --full)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write speed-<device>.json and .md here, with the command",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = Runtime(device=args.device).torch_device()
    cuda = device.type == "cuda"
    models = args.models or (PAPER_SIX if cuda else ["resnet20"])
    steps = args.steps or (200 if cuda else 10)
    warmup = 20 if cuda else 4
    command = " ".join(["python", "benchmarks/speed.py", *(argv or sys.argv[1:])])
    env = environment(device, command)
    variants = CUDA_VARIANTS if cuda else CPU_VARIANTS
    if args.variants:
        variants = [
            v for v in variants if v is variants[0] or any(w in v[0] for w in args.variants)
        ]
    emulated = not cuda and not training_spec.cpu_has_native_bf16()
    skipped = [v[0] for v in variants if emulated and v[2] == "bf16" and not args.emulated_bf16]
    variants = [v for v in variants if v[0] not in skipped]
    auto = Runtime(device=str(device)).resolved()  # what `cifarnets train` runs here
    auto_label = f"{auto.executor} {auto.precision} channels_last"

    results: dict = {
        "environment": env,
        "steps": steps,
        "repeats": args.repeats,
        "per_net": {},
        "auto": auto_label,
        "skipped": skipped,
    }
    lines = [
        f"{env['hardware']}, torch {env['torch']}; {steps} timed steps x {args.repeats} "
        f"repeats after {warmup} warm-up steps; batch {RECIPE.batch_size}, synthetic data",
        "",
        "| net | variant | ms/step (median, min-max) | vs eager fp32 NCHW | eval 10k images "
        "| projected recipe, one net |",
        "|---|---|---|---|---|---|",
    ]
    for model in models:
        per_variant = {}
        for label, executor, precision, channels_last in variants:
            runtime = Runtime(
                device=str(device),
                executor=executor,
                precision=precision,
                channels_last=channels_last,
                progress=False,
            ).resolved()
            if emulated and precision == "bf16":
                label += " (emulated)"
            try:
                times = time_round(
                    [model], runtime, steps=steps, warmup=warmup, repeats=args.repeats
                )
            except ExecutorCheckError as err:  # what `cifarnets train` would refuse too
                per_variant[label] = {"failed": str(err)}
                continue
            eval_s = time_eval(model, runtime, args.eval_images)
            ms = statistics.median(times) * 1e3
            per_variant[label] = {
                "ms_per_step": ms,
                "ms_all": [t * 1e3 for t in times],
                "eval_10k_s": eval_s,
                "precision": precision,
                "emulated": emulated and precision == "bf16",
                "projected_s": ms / 1e3 * STEPS_PER_RUN + eval_s * RECIPE.epochs,
            }
        base = per_variant[variants[0][0]]["ms_per_step"]
        for label, v in per_variant.items():
            if "failed" in v:
                lines.append(
                    f"| {model} | {label} | failed its check: "
                    f"{v['failed'].split(': ', 1)[-1]} | | | |"
                )
                continue
            lines.append(
                f"| {model} | {label} | {v['ms_per_step']:.1f} ({min(v['ms_all']):.1f}-"
                f"{max(v['ms_all']):.1f}) | {base / v['ms_per_step']:.2f}x | "
                f"{v['eval_10k_s']:.2f} s | {_duration(v['projected_s'])} |"
            )
        results["per_net"][model] = per_variant
    lines.append("")
    if skipped:
        lines.append(
            f"left out: {', '.join(skipped)} (this CPU has no bf16 instructions: bf16 "
            f"is emulated, ~10x slower than fp32, and auto trains in fp32; "
            f"--emulated-bf16 times them)"
        )
    for model, per_variant in results["per_net"].items():
        # The fastest in the precision that auto trains in (never emulated bf16).
        eligible = {
            k: v
            for k, v in per_variant.items()
            if "failed" not in v and v["precision"] == auto.precision
        }
        if eligible:
            label, v = min(eligible.items(), key=lambda kv: kv[1]["ms_per_step"])
            lines.append(
                f"fastest for {model} in {auto.precision} (auto's precision here): "
                f"{label}, {v['ms_per_step']:.1f} ms/step, recipe "
                f"~{_duration(v['projected_s'])}"
            )
        mine = per_variant.get(auto_label)
        if mine is None:
            timed = " (not timed in this run)"
        elif "failed" not in mine:
            timed = f": {mine['ms_per_step']:.1f} ms/step"
        else:
            fallbacks = " -> ".join(auto.executor_fallbacks)
            timed = f", which failed its check: auto falls back to {fallbacks}"
        lines.append(f"auto trains {model} with {auto_label} here{timed}")
    best = {
        m: min(
            ((k, v) for k, v in per.items() if "failed" not in v),
            key=lambda kv: kv[1]["ms_per_step"],
        )
        for m, per in results["per_net"].items()
    }
    if (
        len(models) > 1
        and cuda
        and all("ms_per_step" in results["per_net"][m].get(variants[-1][0], {}) for m in models)
    ):
        label, executor, precision, channels_last = variants[-1]
        runtime = Runtime(
            device=str(device),
            executor=executor,
            precision=precision,
            channels_last=channels_last,
            progress=False,
        ).resolved()
        together = (
            statistics.median(
                time_round(models, runtime, steps=steps, warmup=warmup, repeats=args.repeats)
            )
            * 1e3
        )
        alone = sum(results["per_net"][m][label]["ms_per_step"] for m in models)
        results["side_by_side"] = {
            "variant": label,
            "ms_per_round": together,
            "sequential_ms": alone,
        }
        lines.append(
            f"all {len(models)} side by side ({label}): {together:.1f} ms per round vs "
            f"{alone:.1f} one after another ({alone / together:.2f}x); the recipe "
            f"~{_duration(together / 1e3 * STEPS_PER_RUN)} for all of them"
        )
    if cuda:
        if "resnet20" in best:
            projected = best["resnet20"][1]["projected_s"]
            lines.append(
                f"ResNet-20 recipe projected {projected:.0f} s vs target 60 s: "
                f"{'met' if projected <= 60 else 'MISSED'}"
            )
        if "side_by_side" in results and set(PAPER_SIX) <= set(models):
            projected = results["side_by_side"]["ms_per_round"] / 1e3 * STEPS_PER_RUN
            lines.append(
                f"six paper nets side by side projected {projected:.0f} s vs target "
                f"600 s: {'met' if projected <= 600 else 'MISSED'}"
            )
    else:
        lines.append("the speed targets are for one H100 GPU: not checked on a CPU")
    if args.full:
        with tempfile.TemporaryDirectory() as tmp:
            for model in args.full:
                start = time.perf_counter()
                (result,) = train(
                    RunSpec(model),
                    data_root=args.data,
                    out_dir=tmp,
                    runtime=Runtime(device=str(device), progress=False),
                    command=command,
                )
                wall = time.perf_counter() - start
                results.setdefault("full", {})[model] = {
                    "wall_s": wall,
                    "final_test_error": result.final_test_error,
                }
                lines.append(
                    f"full recipe, {model}: {wall:.1f} s wall-clock, final test "
                    f"error {result.final_test_error:.2f} %"
                )
    text = "\n".join(lines) + f"\n\ncommand: {command}\n"
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        tag = "cuda" if cuda else "cpu"
        (args.out / f"speed-{tag}.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.out / f"speed-{tag}.md").write_text(text)
    return 0


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds:.0f} s"


if __name__ == "__main__":
    sys.exit(main())
