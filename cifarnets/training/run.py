"""One training run: its net, optimizer and progress, and how it is saved and restored.

:class:`TrainingRun` holds the state of a run on one device and knows the recipe's
rules (lr schedule, warm-up, divergence); ``state_dict()`` / ``load_state_dict()`` give
exactly what a resume needs and nothing else (net, SGD momentum buffers, progress, log),
device-independent, so that the next chunk may run on another machine.
"""

from __future__ import annotations

import math
import sys
import time
from contextlib import nullcontext
from typing import Any

import torch
from tqdm.auto import tqdm

from ..data import get_dataset_spec
from ..evaluate import count_correct
from ..models import get_model
from .check import CHECK_STEPS, ExecutorCheckError, check_executor, failed_check
from .executors import StepExecutor, StepParts, make_executor
from .loader import DeviceData
from .records import ChunkRecord, ExecutorFallback
from .spec import RunSpec, Runtime

__all__ = ["DIVERGED_LOSS", "TrainingRun"]

# A training loss above this (cross-entropy of 10 classes starts at ln 10 = 2.3) or a
# non-finite one means the run has diverged; it is stopped rather than left to waste time.
DIVERGED_LOSS = 1e3


class TrainingRun:
    """The state of one run on one device. Use: ``load_state_dict`` (to resume), then
    per epoch ``epoch_steps()`` (queues the work, one step per ``next()``),
    ``queue_evaluation()`` and ``finish_epoch()`` (reads it)."""

    def __init__(self, spec: RunSpec, data: DeviceData, runtime: Runtime) -> None:
        self.spec = spec
        self.recipe = spec.recipe
        self.data = data.subset(spec.train_subset, spec.test_subset)
        self.runtime = runtime  # resolved: no "auto" left
        self.device = torch.device(runtime.device)
        self.dataset = get_dataset_spec(spec.dataset)

        torch.manual_seed(spec.seed)  # the nets' kaiming init
        self.memory_format = (
            torch.channels_last if runtime.channels_last else torch.contiguous_format
        )
        self.model = get_model(spec.model, num_classes=self.dataset.num_classes)
        self.model.to(self.device, memory_format=self.memory_format).train()
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=self.recipe.lr,
            momentum=self.recipe.momentum,
            nesterov=self.recipe.nesterov,
            weight_decay=self.recipe.weight_decay,
        )
        self._add_momentum_buffers()
        self.stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        self.steps_per_epoch = self.data.steps_per_epoch(self.recipe.batch_size)
        n = len(self.data.train)
        self.batch_sizes = sorted(
            {
                min(self.recipe.batch_size, n),
                n - (self.steps_per_epoch - 1) * self.recipe.batch_size,
            }
        )
        # Sums over an epoch, kept on the device and read once at its end.
        self.loss_sum = torch.zeros((), device=self.device)
        self.correct = torch.zeros((), dtype=torch.int64, device=self.device)
        self.test_correct = torch.zeros((), dtype=torch.int64, device=self.device)
        self._executor: StepExecutor | None = None
        self._reference: StepExecutor | None = None  # eager, for the executors' checks
        # The executor to use, then those to go on with, in order, if it fails its check.
        self._executors = [runtime.executor, *runtime.executor_fallbacks]

        # Progress: everything below is in state_dict().
        self.epoch = 0  # completed epochs
        self.history: list[dict[str, Any]] = []
        self.chunks: list[ChunkRecord] = []
        self.in_warmup = spec.warmup
        self.warmup_end_step: int | None = None
        self.status = "running"  # -> "finished" or "diverged"
        self.message = ""

    # -- state ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Tensors (``model.*``, ``momentum.*``, on the CPU, contiguous) and progress."""
        tensors = {f"model.{k}": _portable(v) for k, v in self.model.state_dict().items()}
        names = {p: n for n, p in self.model.named_parameters()}
        for param, state in self.optimizer.state.items():
            buffer = state.get("momentum_buffer")
            if buffer is not None:
                tensors[f"momentum.{names[param]}"] = _portable(buffer)
        progress = {
            "epoch": self.epoch,
            "history": self.history,
            "chunks": [c.to_dict() for c in self.chunks],
            "in_warmup": self.in_warmup,
            "warmup_end_step": self.warmup_end_step,
            "status": self.status,
            "message": self.message,
        }
        return {"tensors": tensors, "progress": progress, "spec": self.spec.to_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if RunSpec.from_dict(state["spec"]) != self.spec:
            raise ValueError("the state is of another run")
        tensors = state["tensors"]
        model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        self.model.load_state_dict(model_state)  # copies into the device's tensors
        params = dict(self.model.named_parameters())
        self.optimizer.state.clear()
        for key, value in tensors.items():
            if key.startswith("momentum."):
                param = params[key[len("momentum.") :]]
                buffer = torch.empty_like(param).copy_(value)  # the param's device and layout
                self.optimizer.state[param] = {"momentum_buffer": buffer}
        self._add_momentum_buffers()
        progress = state["progress"]
        self.epoch = progress["epoch"]
        self.history = list(progress["history"])
        self.chunks = [ChunkRecord.from_dict(c) for c in progress["chunks"]]
        self.in_warmup = progress["in_warmup"]
        self.warmup_end_step = progress["warmup_end_step"]
        self.status = progress["status"]
        self.message = progress["message"]

    def _add_momentum_buffers(self) -> None:
        """A zero momentum buffer for each parameter that has none (a new run): SGD's
        update from a zero buffer is bitwise the one it makes without, and every step
        (checked, warmed up, captured) then finds the buffers where training keeps them."""
        if self.recipe.momentum:
            for param in self.model.parameters():
                state = self.optimizer.state[param]
                if state.get("momentum_buffer") is None:
                    state["momentum_buffer"] = torch.zeros_like(param)

    @property
    def elapsed_s(self) -> float:
        return self.history[-1]["elapsed_s"] if self.history else 0.0

    @property
    def done(self) -> bool:
        return self.status != "running" or self.epoch >= self.recipe.epochs

    # -- training ---------------------------------------------------------------------

    @property
    def executor(self) -> StepExecutor:
        if self._executor is None:  # built after any resume: a capture needs the state
            self._executor = self._make_executor(self._executors[0])
        return self._executor

    def _make_executor(self, name: str) -> StepExecutor:
        parts = StepParts(
            model=self.model,
            optimizer=self.optimizer,
            mean=self.dataset.mean,
            std=self.dataset.std,
            label_smoothing=self.recipe.label_smoothing,
            memory_format=self.memory_format,
            autocast_dtype=torch.bfloat16 if self.runtime.precision == "bf16" else None,
            loss_sum=self.loss_sum,
            correct=self.correct,
            device=self.device,
            stream=self.stream,
        )
        return make_executor(name, parts, self.batch_sizes)

    def on_stream(self):
        return torch.cuda.stream(self.stream) if self.stream is not None else nullcontext()

    def lr_at(self, step: int) -> float:
        return (
            self.recipe.warmup_lr
            if self.in_warmup
            else self.recipe.lr_at(step, self.steps_per_epoch)
        )

    def epoch_steps(self):
        """Queue the epoch's steps, one per ``next()``, so that the loop can interleave
        runs (side by side on CUDA streams). Nothing here waits for the device except
        the warm-up's error checks and the executor's checks (see check.py): before the
        run's first step, and before any step that makes the executor build its step
        anew."""
        recipe = self.recipe
        self.epoch_start = time.perf_counter()
        self.model.train()  # the last epoch ended in eval mode (before any capture)
        first_step = self.epoch * self.steps_per_epoch
        executor = self._executor
        window = (0, 0)  # (correct, seen) at the last warm-up check
        if self.stream is not None:  # the data was made on the default stream
            self.stream.wait_stream(torch.cuda.current_stream(self.device))
        with self.on_stream():
            self.loss_sum.zero_()
            self.correct.zero_()
            batches = list(
                self.data.epoch(
                    self.spec.seed, self.epoch, recipe.batch_size, recipe.pad, recipe.flip
                )
            )  # views of one tensor
        for index, (x, y) in enumerate(batches):
            with self.on_stream():
                lr = self.lr_at(first_step + index)
                if executor is None or executor.needs_proof(lr):
                    executor = self._prove(
                        lr, batches[index : index + CHECK_STEPS], first_step + index
                    )
                executor.set_lr(lr)
                executor.step(x, y)
                if self.in_warmup and (index + 1) % recipe.warmup_check_every == 0:
                    window = self._check_warmup(first_step, index + 1, window)
            yield

    def _prove(
        self, lr: float, batches: list[tuple[torch.Tensor, torch.Tensor]], step: int
    ) -> StepExecutor:
        """Check the executor against the eager step on the next real ``batches`` (and
        one of each smaller batch size); on a failure go on with the next executor of
        the runtime's order, or raise :class:`ExecutorCheckError` when none is left.
        The run's state is bitwise what it was either way. Returns the executor to use."""
        full = batches[0]
        batches = batches + [
            (full[0][:size], full[1][:size]) for size in self.batch_sizes if size < len(full[1])
        ]
        if self._reference is None:
            self._reference = self._make_executor("eager")
        while True:
            name = self._executors[0]
            try:
                executor = self.executor
            except Exception as err:  # e.g. torch.compile on a Python that dynamo lacks
                result = failed_check(name, self.runtime.precision, err)
            else:
                if not executor.needs_proof(lr):
                    return executor
                result = check_executor(executor, self._reference, batches, lr)
                if self.chunks:  # the chunk's record (a run outside the engine has none)
                    chunk = self.chunks[-1]
                    chunk.check_s = round((chunk.check_s or 0.0) + result.seconds, 2)
                if result.ok:
                    executor.proven = True
                    return executor
            if len(self._executors) == 1:
                raise ExecutorCheckError(
                    f"{self.spec.name}: executor {name!r} failed its check against "
                    f"the eager step ({result.precision}, epoch {self.epoch + 1}): "
                    f"{result.reason}. No executor is left to fall back to (one given by "
                    f"name has none): pass another --executor (eager needs no check), or "
                    f"auto, which falls back. The run's checkpoint holds its last saved "
                    f"epoch; nothing after it was kept."
                )
            self._executors.pop(0)
            self._executor = None
            fallback = ExecutorFallback(
                executor=name,
                to=self._executors[0],
                reason=result.reason,
                epoch=self.epoch + 1,
                step=step,
                difference=result.difference,
                tolerance=result.tolerance,
            )
            if self.chunks:
                self.chunks[-1].fallbacks.append(fallback)
                self.chunks[-1].executor = fallback.to
            tqdm.write(
                f"warning: {self.spec.name}: executor {name!r} failed its check "
                f"against the eager step ({result.precision}, epoch "
                f"{self.epoch + 1}): {result.reason}; training with "
                f"{fallback.to!r} instead",
                file=sys.stderr,
            )

    def _check_warmup(
        self, first_step: int, steps_done: int, window: tuple[int, int]
    ) -> tuple[int, int]:
        """Leave the warm-up once the training error of the last window of steps is
        below the recipe's bar (reads one number from the device, only while warming up)."""
        correct = int(self.correct)
        seen = min(steps_done * self.recipe.batch_size, len(self.data.train))
        error = 100.0 * (1 - (correct - window[0]) / max(seen - window[1], 1))
        if error < self.recipe.warmup_until_error:
            self.in_warmup = False
            self.warmup_end_step = first_step + steps_done
        return correct, seen

    def queue_evaluation(self) -> None:
        """Queue the test-set evaluation (eval mode, the runtime's precision)."""
        with self.on_stream():
            self.test_correct = count_correct(
                self.model,
                self.data.test.images,
                self.data.test.labels,
                mean=self.dataset.mean,
                std=self.dataset.std,
                batch_size=self.runtime.eval_batch_size,
                device=self.device,
                autocast_dtype=torch.bfloat16 if self.runtime.precision == "bf16" else None,
                memory_format=self.memory_format,
            )

    def finish_epoch(self, chunk: int) -> dict[str, Any]:
        """Read the epoch's numbers (the device must be synchronised) and log them."""
        n_train, n_test = len(self.data.train), len(self.data.test)
        train_loss = float(self.loss_sum) / n_train
        epoch_time = time.perf_counter() - self.epoch_start
        record = {
            "epoch": self.epoch + 1,
            "lr": self.lr_at((self.epoch + 1) * self.steps_per_epoch - 1),
            "train_loss": round(train_loss, 6),
            "train_error": round(100.0 * (1 - int(self.correct) / n_train), 4),
            "test_error": round(100.0 * (1 - int(self.test_correct) / n_test), 4),
            "epoch_time_s": round(epoch_time, 3),
            "elapsed_s": round(self.elapsed_s + epoch_time, 3),
            "chunk": chunk,
        }
        self.history.append(record)
        self.epoch += 1
        if not math.isfinite(train_loss) or train_loss > DIVERGED_LOSS:
            self.status = "diverged"
            self.message = (
                f"{self.spec.name} diverged in epoch {self.epoch}: training loss "
                f"{train_loss:.4g}. Nothing was published; lower the lr (a recipe change), "
                f"or use the paper's warm-up, which He et al. needed for ResNet-110."
            )
        elif self.epoch >= self.recipe.epochs:
            self.status = "finished"
        return record

    def final_weights(self) -> dict[str, torch.Tensor]:
        return {k: _portable(v) for k, v in self.model.state_dict().items()}


def _portable(tensor: torch.Tensor) -> torch.Tensor:
    """A CPU, contiguous, detached copy (what safetensors stores, whatever the device)."""
    return tensor.detach().to("cpu", memory_format=torch.contiguous_format).contiguous().clone()
