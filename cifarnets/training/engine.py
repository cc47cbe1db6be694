"""The training loop: several runs side by side, in time-boxed, resumable chunks.

Each call of :func:`train` is one *chunk*: it continues every unfinished run from its
checkpoint (written by any earlier chunk, on any machine, with any runtime), trains
epoch by epoch with all runs interleaved step by step (on a GPU each run on its own CUDA
stream, so small nets share the device), and stops when the runs finish, when the next
epoch would not fit in ``runtime.max_minutes``, or on Ctrl-C / SIGTERM (at the end of
the epoch). Stopping always leaves checkpoints that the same call continues from.
"""

from __future__ import annotations

import datetime
import json
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .._version import __version__
from .folder import RunFolder
from .loader import DeviceData
from .records import ChunkRecord
from .results import RunResult
from .run import TrainingRun
from .spec import RunSpec, Runtime

__all__ = ["environment", "hardware_name", "train"]

# What a chunk record keeps of the environment (the rest: the runtime's fields).
_ENV_FIELDS = ("host", "hardware", "device", "torch", "cuda", "cifarnets", "commit", "command")


def hardware_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    isa = torch.backends.cpu.get_cpu_capability()
    threads = torch.get_num_threads()
    return f"CPU {model} ({isa}, {threads} thread{'s' if threads > 1 else ''})"


def environment(device: torch.device, command: str | None = None) -> dict[str, Any]:
    """What produced a result: versions, hardware, code revision, command."""
    commit = None
    with suppress(OSError, subprocess.SubprocessError):
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                cwd=Path(__file__).resolve().parent,
            ).stdout.strip()
            or None
        )
    return {
        "host": platform.node(),
        "device": str(device),
        "hardware": hardware_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "python": platform.python_version(),
        "cifarnets": __version__,
        "commit": commit,
        "command": command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


class _StopRequest:
    """Ctrl-C / SIGTERM: finish the epoch, checkpoint, stop. A second one aborts."""

    def __init__(self) -> None:
        self.reason: str | None = None

    @contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum, frame):
            if self.reason is not None:  # the second time: stop now (the CLI says so)
                raise KeyboardInterrupt
            self.reason = signal.Signals(signum).name
            tqdm.write(
                f"{self.reason}: stopping at the end of this epoch, after a checkpoint "
                f"(again to abort now, losing this epoch)",
                file=sys.stderr,
            )

        for s in previous:
            signal.signal(s, handler)
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


def _result(run: TrainingRun, command: str | None) -> RunResult:
    return RunResult(
        spec=run.spec,
        status=run.status,
        message=run.message,
        epochs=run.epoch,
        history=run.history,
        chunks=run.chunks,
        train_images=len(run.data.train),
        test_images=len(run.data.test),
        warmup_end_step=run.warmup_end_step,
        command=command,
    )


def _weights_meta(run: TrainingRun) -> dict[str, str]:
    spec, dataset = run.spec, run.dataset
    return {
        "format": "pt",
        "arch": spec.model,
        "dataset": spec.dataset,
        "num_classes": str(dataset.num_classes),
        "mean": json.dumps(dataset.mean),
        "std": json.dumps(dataset.std),
        "recipe": spec.recipe.name,
        "seed": str(spec.seed),
        "run": spec.name,
    }


def train(
    specs: RunSpec | Sequence[RunSpec],
    *,
    data_root: str | Path,
    out_dir: str | Path,
    runtime: Runtime | None = None,
    command: str | None = None,
    stop_after_epochs: int | None = None,
) -> list[RunResult]:
    """Train runs side by side on one device, as one chunk; return their results.

    Finished runs are read, not retrained; unfinished ones continue from their
    checkpoints. Results come back for every run, ``status == "running"`` for those that
    still need more chunks. ``stop_after_epochs`` ends the chunk early (tests).
    """
    specs = [specs] if isinstance(specs, RunSpec) else list(specs)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"two runs share a name (model-dataset-recipe-seed): {names}")
    asked = (runtime or Runtime()).executor
    runtime = (runtime or Runtime()).resolved()
    threads = torch.get_num_threads()
    if runtime.threads:
        torch.set_num_threads(runtime.threads)
    try:
        return _train(specs, names, data_root, out_dir, runtime, asked, command, stop_after_epochs)
    finally:
        torch.set_num_threads(threads)


def _train(
    specs: list[RunSpec],
    names: list[str],
    data_root: str | Path,
    out_dir: str | Path,
    runtime: Runtime,
    executor_asked: str,
    command: str | None,
    stop_after_epochs: int | None,
) -> list[RunResult]:
    device = torch.device(runtime.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    env = environment(device, command)
    command = env["command"]
    log = tqdm.write if runtime.progress else (lambda *a, **k: None)

    results: dict[str, RunResult] = {}
    todo: list[tuple[RunSpec, RunFolder]] = []
    for spec in specs:
        folder = RunFolder(out_dir, spec)
        if folder.identity.is_file():
            folder.claim()  # only checks: another run's folder is an error, before any work
        done = folder.finished_result()
        if done is not None:
            results[spec.name] = done
        else:
            folder.check_nothing_is_lost()
            todo.append((spec, folder))

    # Data problems surface here, before any folder is written or any training starts.
    data = {
        s.dataset: DeviceData.load(s.dataset, data_root, device)
        for s in dict.fromkeys(s for s, _ in todo)
    }
    runs: list[tuple[TrainingRun, RunFolder]] = []
    for spec, folder in todo:
        run = TrainingRun(spec, data[spec.dataset], runtime)
        folder.claim()
        state = folder.load_checkpoint()
        if state is not None:
            run.load_state_dict(state)
        runs.append((run, folder))

    started = time.perf_counter()
    deadline = started + runtime.max_minutes * 60 if runtime.max_minutes else None
    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    for run, _ in runs:
        run.chunks.append(
            ChunkRecord(
                index=len(run.chunks),
                start_epoch=run.epoch,
                end_epoch=run.epoch,
                started_at=started_at,
                **{k: env[k] for k in _ENV_FIELDS},
                executor=runtime.executor,
                precision=runtime.precision,
                channels_last=runtime.channels_last,
                threads=torch.get_num_threads(),
                executor_asked=executor_asked,
            )
        )

    def save(run: TrainingRun, folder: RunFolder) -> None:
        chunk = run.chunks[-1]
        chunk.end_epoch = run.epoch
        chunk.epochs_added = run.epoch - chunk.start_epoch
        chunk.wall_s = round(time.perf_counter() - started, 1)
        if run.status == "running":
            folder.write_logs(run.history, run.chunks)
            folder.save_checkpoint(run.state_dict())
            folder.write_result(_result(run, command), None)
        else:
            chunk.stopped = run.status
            folder.write_logs(run.history, run.chunks)
            weights = run.final_weights() if run.status == "finished" else None
            folder.write_result(_result(run, command), weights, _weights_meta(run))
        run.last_save = time.perf_counter()

    active = [(r, f) for r, f in runs if not r.done]
    for run, folder in runs:
        run.last_save = time.perf_counter()
        if run.done:  # e.g. a checkpoint of a finished epoch count; write its results
            save(run, folder)
            results[run.spec.name] = _result(run, command)
    if active:
        # The plan, not an event: a fallback that happens gets its own warning line.
        fallbacks = (
            f" (falls back to {', then '.join(runtime.executor_fallbacks)} if its check fails)"
            if runtime.executor_fallbacks
            else ""
        )
        log(
            f"chunk: {len(active)} run(s) on {env['hardware']}, executor {runtime.executor}"
            f"{fallbacks}, {runtime.precision}"
            + (f", budget {runtime.max_minutes:g} min" if deadline else "")
        )
    stop = _StopRequest()
    epochs_this_call = 0
    last_round_s: float | None = None
    stop_reason = None
    with stop.installed():
        while active:
            now = time.perf_counter()
            estimate = last_round_s or _estimate_round(active)
            if deadline is not None and estimate is not None and now + estimate > deadline:
                stop_reason = (
                    f"time budget: the next epoch (~{estimate:.0f} s) would end "
                    f"after --max-minutes {runtime.max_minutes:g}"
                )
                break
            round_start = time.perf_counter()
            steppers = [run.epoch_steps() for run, _ in active]
            while steppers:  # interleave the runs step by step
                steppers = [s for s in steppers if next(s, StopIteration) is not StopIteration]
            for run, _ in active:
                run.queue_evaluation()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            for run, folder in active:
                record = run.finish_epoch(chunk=run.chunks[-1].index)
                log(
                    f"{run.spec.name} epoch {record['epoch']}/{run.recipe.epochs}: "
                    f"lr {record['lr']:g}, train loss {record['train_loss']:.4f}, "
                    f"train error {record['train_error']:.2f} %, test error "
                    f"{record['test_error']:.2f} % ({record['epoch_time_s']:.1f} s"
                    f"{time_left(run.history, record['chunk'], run.recipe.epochs - run.epoch)})"
                )
                if run.done:
                    save(run, folder)
                    results[run.spec.name] = _result(run, command)
                    log(
                        f"{run.spec.name}: {run.status} after {run.epoch} epochs, final test "
                        f"error {record['test_error']:.2f} %"
                        + (f"\n{run.message}" if run.message else "")
                    )
                elif time.perf_counter() - run.last_save >= runtime.checkpoint_every_s:
                    save(run, folder)
                else:  # the log every epoch (cheap); the checkpoint stays the truth
                    folder.write_logs(run.history, run.chunks)
            active = [(r, f) for r, f in active if not r.done]
            last_round_s = time.perf_counter() - round_start
            epochs_this_call += 1
            if stop.reason is not None:
                stop_reason = f"{stop.reason} received"
                break
            if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs:
                stop_reason = f"stop_after_epochs={stop_after_epochs}"
                break
        # Still under the stop handler: a second signal during this last save aborts
        # with the CLI's one line instead of killing the process (SIGTERM's default).
        for run, folder in active:
            if epochs_this_call:
                run.chunks[-1].stopped = stop_reason
                save(run, folder)
            else:  # a budget below one epoch: the folder stays as it was, no empty chunk
                run.chunks.pop()
            results[run.spec.name] = _result(run, command)
    if active:
        where = ", ".join(f"{r.spec.name} at epoch {r.epoch}/{r.recipe.epochs}" for r, _ in active)
        if epochs_this_call:
            log(
                f"stopped ({stop_reason}); checkpoints written: {where}. The same command "
                f"continues them (on any machine)."
            )
        else:
            log(
                f"stopped before training one epoch ({stop_reason}); nothing was written: "
                f"{where}. Give a --max-minutes above one epoch's time to continue."
            )
    return [results[n] for n in names]


def time_left(history: Sequence[dict[str, Any]], chunk: int, epochs_left: int) -> str:
    """ ", ~N h left" at this chunk's median epoch time (a run of 164 epochs on a CPU takes
    days: the log says how many), or "" when the run is done."""
    times = [r["epoch_time_s"] for r in history if r["chunk"] == chunk]
    times = times[1:] or times  # a chunk's first epoch includes compilation: an outlier
    if epochs_left <= 0 or not times:
        return ""
    seconds = statistics.median_high(times) * epochs_left
    return (
        f", ~{seconds / 3600:.1f} h left" if seconds >= 3600 else f", ~{seconds / 60:.0f} min left"
    )


def _estimate_round(active: list[tuple[TrainingRun, RunFolder]]) -> float | None:
    """Seconds for the next epoch of all active runs, from the epochs their last chunk
    trained, if that chunk ran on this hardware with this executor; else None."""
    total = 0.0
    for run, _ in active:
        previous = [c for c in run.chunks[:-1] if c.epochs_added]
        if not previous or not run.history:
            return None
        last, here = previous[-1], run.chunks[-1]
        if (last.hardware, last.executor) != (here.hardware, here.executor):
            return None
        total += run.history[-1]["epoch_time_s"]
    return total
