"""Step executors: how one SGD step runs. Same step, same results; different speed.

Every executor runs :func:`train_step` (normalise, forward, loss, backward, SGD, and the
epoch's loss/accuracy sums, all on the device); they differ only in how:

* ``eager``: the ordinary PyTorch loop, one kernel launch at a time;
* ``compile``: the net through ``torch.compile`` (fused pointwise kernels around the
  convolutions; on a GPU also fewer launches);
* ``cuda_graph``: the whole step (forward, backward and SGD) captured once in a CUDA
  graph and replayed, on the run's own stream: one launch per step instead of hundreds,
  which is what these small nets need on a GPU, where launching a kernel takes longer
  than running most of theirs.

Every executor but ``eager`` proves itself before it trains, and falls back when it
cannot: see ``check.py``. ``auto`` tries them in the order of :func:`auto_executors`.

A new executor is a subclass with a ``name``, registered with :func:`register_executor`;
nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..data import normalize

__all__ = [
    "EXECUTORS",
    "StepExecutor",
    "StepParts",
    "StepState",
    "auto_executors",
    "default_executor",
    "register_executor",
    "train_step",
]


@dataclass
class StepParts:
    """What a step works on; owned by the run, shared with its executor."""

    model: nn.Module
    optimizer: torch.optim.SGD
    mean: tuple[float, ...]
    std: tuple[float, ...]
    label_smoothing: float
    memory_format: torch.memory_format
    autocast_dtype: torch.dtype | None  # None: fp32
    loss_sum: torch.Tensor  # accumulated over an epoch, on the device
    correct: torch.Tensor
    device: torch.device
    stream: torch.cuda.Stream | None = None  # CUDA: the run's own stream


def train_step(
    parts: StepParts,
    images_u8: torch.Tensor,
    labels: torch.Tensor,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> None:
    """One SGD step on a uint8 batch; gradients must be None or zero on entry."""
    x = normalize(images_u8, parts.mean, parts.std).contiguous(memory_format=parts.memory_format)
    # No autocast weight cache: under a CUDA graph its casts would be freed when the
    # context exits, while the graph still reads them (PyTorch's CUDA graphs notes).
    with torch.autocast(
        parts.device.type,
        dtype=parts.autocast_dtype or torch.float32,
        enabled=parts.autocast_dtype is not None,
        cache_enabled=False,
    ):
        logits = (parts.model if forward is None else forward)(x)
    loss = F.cross_entropy(logits.float(), labels, label_smoothing=parts.label_smoothing)
    loss.backward()
    parts.optimizer.step()
    with torch.no_grad():
        parts.loss_sum.add_(loss.detach() * len(labels))
        parts.correct.add_((logits.argmax(1) == labels).sum())


class StepState:
    """A copy of everything a step changes: the net's parameters and buffers, SGD's
    momentum buffers and the epoch's sums. :meth:`restore` copies it back into the same
    tensors (a captured graph keeps their addresses), bitwise."""

    def __init__(self, parts: StepParts) -> None:
        with torch.no_grad():
            self.tensors = {
                f"model.{k}": v.detach().clone() for k, v in parts.model.state_dict().items()
            }
            for name, param in parts.model.named_parameters():
                buffer = parts.optimizer.state.get(param, {}).get("momentum_buffer")
                if buffer is not None:
                    self.tensors[f"momentum.{name}"] = buffer.detach().clone()
            self.tensors["loss_sum"] = parts.loss_sum.clone()
            self.tensors["correct"] = parts.correct.clone()

    def restore(self, parts: StepParts) -> None:
        with torch.no_grad():
            for key, value in parts.model.state_dict().items():
                value.copy_(self.tensors[f"model.{key}"])
            for name, param in parts.model.named_parameters():
                buffer = parts.optimizer.state.get(param, {}).get("momentum_buffer")
                if buffer is None:
                    continue
                saved = self.tensors.get(f"momentum.{name}")
                if saved is not None:
                    buffer.copy_(saved)
                else:  # made since: a zero buffer makes SGD's next update that of a first step
                    buffer.zero_()
            parts.loss_sum.copy_(self.tensors["loss_sum"])
            parts.correct.copy_(self.tensors["correct"])


class StepExecutor:
    """Runs the steps of one run. Subclasses set ``name`` and override :meth:`step`.

    The run proves an executor against ``eager`` (the ``reference``, never checked
    itself) whenever :meth:`needs_proof` says so: before its first step, and, for an
    executor that builds its step anew now and then (``cuda_graph``: a capture per lr),
    before each step that would build it.
    """

    name: ClassVar[str]
    cuda_only: ClassVar[bool] = False
    reference: ClassVar[bool] = False

    def __init__(self, parts: StepParts, batch_sizes: list[int]) -> None:
        if self.cuda_only and parts.device.type != "cuda":
            raise ValueError(
                f"executor {self.name!r} needs a CUDA device; on a CPU use 'eager' or 'compile'"
            )
        self.parts = parts
        self.batch_sizes = batch_sizes  # every batch size an epoch will use
        self.proven = False  # set by the run once a check has passed

    def set_lr(self, lr: float) -> None:
        for group in self.parts.optimizer.param_groups:
            group["lr"] = lr

    def needs_proof(self, lr: float) -> bool:
        """Whether the run must check this executor before its next step at ``lr``."""
        return not (self.reference or self.proven)

    def step(self, images_u8: torch.Tensor, labels: torch.Tensor) -> None:
        raise NotImplementedError


EXECUTORS: dict[str, type[StepExecutor]] = {}


def register_executor(cls: type[StepExecutor]) -> type[StepExecutor]:
    if cls.name in EXECUTORS:
        raise RuntimeError(f"executor {cls.name!r} is registered twice")
    EXECUTORS[cls.name] = cls
    return cls


def auto_executors(device: torch.device) -> list[str]:
    """What ``auto`` tries, in order: each one that fails its check (or raises) falls
    back to the next. On CUDA cuda_graph, then compile, then eager. On a CPU compile
    (measured fastest on the project's machines at one thread per process, and tied
    with eager at two: speed-cpu.md), then eager; eager alone without a C++ compiler,
    which inductor needs there."""
    if device.type == "cuda":
        return ["cuda_graph", "compile", "eager"]
    return ["compile", "eager"] if _have_cxx() else ["eager"]


def default_executor(device: torch.device) -> str:
    """The executor ``auto`` tries first on ``device``."""
    return auto_executors(device)[0]


def _have_cxx() -> bool:
    import os
    import shutil

    return any(shutil.which(c) for c in (os.environ.get("CXX", ""), "c++", "g++", "clang++") if c)


@register_executor
class EagerExecutor(StepExecutor):
    """The ordinary loop: the step every other executor is checked against."""

    name = "eager"
    reference = True

    def step(self, images_u8: torch.Tensor, labels: torch.Tensor) -> None:
        self.parts.optimizer.zero_grad(set_to_none=True)
        train_step(self.parts, images_u8, labels)


@register_executor
class CompileExecutor(StepExecutor):
    """The net's forward (and, through AOTAutograd, its backward) compiled by inductor;
    the optimizer stays eager (compiling it measured no faster). One graph per batch
    size (the last batch of an epoch is smaller), no dynamic shapes."""

    name = "compile"

    def __init__(self, parts: StepParts, batch_sizes: list[int]) -> None:
        super().__init__(parts, batch_sizes)
        self.forward = torch.compile(parts.model, dynamic=False)

    def step(self, images_u8: torch.Tensor, labels: torch.Tensor) -> None:
        self.parts.optimizer.zero_grad(set_to_none=True)
        train_step(self.parts, images_u8, labels, forward=self.forward)


@register_executor
class CudaGraphExecutor(StepExecutor):
    """The whole step captured in one CUDA graph per batch size and replayed.

    The lr is a float that torch.optim.SGD bakes into the graph, so a new lr means a new
    capture: three times in the report's schedule (and once after a warm-up).
    """

    name = "cuda_graph"
    cuda_only = True

    def __init__(self, parts: StepParts, batch_sizes: list[int]) -> None:
        super().__init__(parts, batch_sizes)
        self.static: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.graph_lr: float | None = None

    def needs_proof(self, lr: float) -> bool:
        return self.graph_lr != lr  # a new capture: proven again

    def step(self, images_u8: torch.Tensor, labels: torch.Tensor) -> None:
        lr = self.parts.optimizer.param_groups[0]["lr"]
        if self.graph_lr != lr:
            self._capture(images_u8, labels)
        static_x, static_y = self.static[len(labels)]
        static_x.copy_(images_u8)
        static_y.copy_(labels)
        self.graphs[len(labels)].replay()

    def _on_stream(self):
        stream = self.parts.stream
        return torch.cuda.stream(stream) if stream is not None else nullcontext()

    def _capture(self, images_u8: torch.Tensor, labels: torch.Tensor) -> None:
        if not self.static:
            self._warm_up(images_u8, labels)
        self.graphs.clear()
        for size, (x, y) in self.static.items():
            self.parts.optimizer.zero_grad(set_to_none=True)  # backward then *writes* grads
            graph = torch.cuda.CUDAGraph()
            # Captured on the run's own stream: graphs captured on the shared capture
            # stream and replayed on other streams crashed.
            with torch.cuda.graph(graph, stream=self.parts.stream):
                train_step(self.parts, x, y)
            self.graphs[size] = graph
        self.graph_lr = self.parts.optimizer.param_groups[0]["lr"]

    def _warm_up(self, images_u8: torch.Tensor, labels: torch.Tensor) -> None:
        """Run each step shape eagerly a few times (cuDNN autotuning, lazy init, momentum
        buffers) before capture, then undo every effect so that training is unchanged."""
        parts = self.parts
        saved = StepState(parts)
        for size in self.batch_sizes:
            reps = -(-size // len(labels))
            self.static[size] = (
                images_u8.repeat(reps, 1, 1, 1)[:size].clone(),
                labels.repeat(reps)[:size].clone(),
            )
        with self._on_stream():
            for _ in range(3):
                for x, y in self.static.values():
                    parts.optimizer.zero_grad(set_to_none=True)
                    train_step(parts, x, y)
            saved.restore(parts)


def make_executor(name: str, parts: StepParts, batch_sizes: list[int]) -> StepExecutor:
    try:
        cls = EXECUTORS[name]
    except KeyError:
        raise ValueError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}") from None
    return cls(parts, batch_sizes)
