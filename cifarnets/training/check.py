"""Prove, then train: each executor's steps checked against the eager step.

Before a run's first step with an executor other than ``eager`` (and again before any
step that makes it build its step anew: ``cuda_graph`` captures a new graph for each
lr), :func:`check_executor` runs the next :data:`CHECK_STEPS` real batches (and one of
each smaller batch size an epoch has) at the run's lr, each batch twice from the same
state: once with the executor, once eagerly. The next batch starts from the eager
result, and at the end the run's state is copied back: it is bitwise what it was, and
the executor's compiled or captured step is the one that then trains.

Each step compares, for the parameters, the BN statistics, the SGD momentum buffers
and the loss sum (each as one vector), ``|executor - eager| / |eager - before|``: the
difference relative to what the step changed. It must be within the tolerance of
:data:`TOLERANCES` for the executor and precision; integer buffers must be equal, and
the count of correct predictions may differ by the tolerance's share of the images.
Eager against eager is bitwise on a CPU (tolerance 0).

Each step starts from the same state for both because over chained steps rounding
differences grow chaotically (compile against eager, fp32, resnet20: 0.8 % of the
momentum's change after one step, 17 % after three chained ones), which would hide a
wrong step in noise.

Where eager itself is inexact, a difference beyond the tolerance gets a second opinion:
the step is computed once more, eagerly, in float64, and the executor passes if it is
at most :data:`ACCURACY_RATIO` times as far from that step as eager is. That is the case
of a deep plain net at initialization, whose gradient is mostly rounding error (plain56:
compile and eager 110 % apart in fp32), and of bf16 where eager's own bf16 step is far
from its fp32 one (resnet110 at initialization: 35 %); a wrong step is many times
further from float64 than eager.

Measured on a Xeon with AVX-512 and AMX (torch 2.14, one thread; 3 steps of 128 real
CIFAR-10 images, at initialization and after 10 steps, lr 0.1 and 0.001), the largest
differences of compile from eager: fp32 7.6e-3 (resnet20), 2.1e-2 (resnet110), 1.1
(plain56 at initialization; 0.17x eager's distance from float64); bf16 0.11 (resnet20),
0.31 (resnet110 at initialization; 1.3x), 1.4 (plain56 at initialization; 1.1x); after
10 steps below 6e-3 for the deep nets; at most 2 (fp32) and 8 (bf16, plain56 at
initialization, where the net's predictions are near ties) of 384 predictions apart.
A step with 1.5x the lr: 0.5, and 110x-300x (fp32) or 5.5x-47x (bf16) eager's distance
from float64.

A check costs about 6 of the net's steps (3 with the executor, 3 eager; and a float64
step for each second opinion), once per chunk and per new capture: resnet20 on one
thread of the machine above, 1.7-3.5 s in fp32 and 0.2-1.7 s in bf16 at a chunk's
start, 1-2 % of an epoch, beyond the executor's own compilation or capture, which
its first checked step pays (tens of seconds for inductor with a cold cache; the
compiled step is the one that then trains, not an extra one). A check passes a step
within its tolerance of eager's: a step off by less than that (an lr 1.05x the
recipe's measures 0.05) is not caught; one off by more is.

An executor that disagrees or raises fails its check. Under ``executor="auto"`` (and
for a runtime's ``executor_fallbacks``) the run then goes on with the next executor
(cuda_graph -> compile -> eager on CUDA, compile -> eager on a CPU), with one warning
line and the fallback in the chunk's record; an executor given by name is an
:class:`ExecutorCheckError` instead.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data import normalize
from ..errors import ExecutorError
from .executors import StepExecutor, StepParts, StepState

__all__ = [
    "ACCURACY_RATIO",
    "CHECK_STEPS",
    "TOLERANCES",
    "CheckResult",
    "ExecutorCheckError",
    "Tolerance",
    "check_executor",
    "failed_check",
    "tolerance_for",
]

CHECK_STEPS = 3


class ExecutorCheckError(ExecutorError):
    """An executor given by name failed its check (or raised) before it trained: this
    machine (its compiler, driver or torch build) cannot run that step as asked."""


@dataclass(frozen=True)
class Tolerance:
    rel: float  # largest |executor - eager| / |eager - before| of any group of tensors
    correct: float  # largest difference in correct predictions, as a share of the images


# By (executor, precision); an executor not named here is held to eager's. The measured
# differences (see the module's docstring) in the comments: each tolerance has a margin
# over those of well-conditioned steps (other CPUs sum in other orders), is below the 0.5
# of a step with 1.5x the lr, and the second opinion covers the rest.
TOLERANCES: dict[tuple[str, str], Tolerance] = {
    # Eager against eager: the same kernels in the same order, bitwise on a CPU. Never
    # checked in training (eager is the reference); the tests hold the check to it.
    ("eager", "fp32"): Tolerance(rel=0.0, correct=0.0),
    ("eager", "bf16"): Tolerance(rel=0.0, correct=0.0),
    # resnet20 7.6e-3, resnet110 2.1e-2 (momentum, at initialization), 4.6e-4 after 10
    # steps; plain56 at initialization 1.1 (second opinion: 0.13x-0.17x), 2.7e-4 after
    # 10 steps. Predictions: at most 2 of 384 apart (0.5 %; a net at initialization
    # predicts near ties).
    ("compile", "fp32"): Tolerance(rel=0.05, correct=0.05),
    # resnet20 0.11 (eager's own bf16 step: 0.14 from its fp32 one), resnet110 0.31 at
    # initialization (1.3x), plain56 1.4 (1.0x-1.1x); below 6e-3 after 10 steps.
    # Predictions: at most 8 of 384 apart (2.1 %, plain56 at initialization).
    ("compile", "bf16"): Tolerance(rel=0.3, correct=0.1),
    # Unmeasured (no GPU yet): the captured step runs eager's own kernels, so it is held
    # to compile's tolerances, which cover reordered sums.
    ("cuda_graph", "fp32"): Tolerance(rel=0.05, correct=0.05),
    ("cuda_graph", "bf16"): Tolerance(rel=0.3, correct=0.1),
}

# Beyond its tolerance, an executor still passes a step if it is at most this many times
# as far from the float64 step as eager is (the second opinion, see the docstring).
ACCURACY_RATIO = 3.0


def tolerance_for(executor: str, precision: str) -> Tolerance:
    return TOLERANCES.get((executor, precision), TOLERANCES[("eager", precision)])


@dataclass(frozen=True)
class CheckResult:
    executor: str
    precision: str
    ok: bool
    reason: str  # one line: the measured difference, or the exception
    difference: float | None  # the largest relative difference (None: it raised)
    tolerance: float
    seconds: float  # the whole check: the executor's steps (and its build), eager's


def check_executor(
    executor: StepExecutor,
    reference: StepExecutor,
    batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
    lr: float,
) -> CheckResult:
    """Run each of ``batches`` at ``lr`` with ``executor`` and with ``reference`` (eager,
    on the same parts) from the same state, the eager result of the batch before, and
    compare; the run's state is restored whatever happens. Exceptions of the executor
    are a failed check; those of eager are raised."""
    parts = executor.parts
    precision = precision_of(parts)
    tolerance = tolerance_for(executor.name, precision)
    params = {f"model.{name}" for name, _ in parts.model.named_parameters()}
    started = time.perf_counter()
    first = state = StepState(parts)
    exact: _Float64Step | None = None
    worst, where, wrong, images, ratios, agree, number = 0.0, "", 0, 0, [], True, 0
    try:
        for number, (images_u8, labels) in enumerate(batches, 1):
            try:
                executor.set_lr(lr)
                executor.step(images_u8, labels)
                if parts.device.type == "cuda":  # the executor's own errors surface here
                    torch.cuda.synchronize(parts.device)
            except Exception as err:  # a capture error, inductor without a compiler, OOM...
                return failed_check(executor.name, precision, err, time.perf_counter() - started)
            ran = StepState(parts)
            state.restore(parts)
            reference.set_lr(lr)
            reference.step(images_u8, labels)
            eager = StepState(parts)
            differences = _differences(state.tensors, ran.tensors, eager.tensors, params)
            for group, difference in differences.items():
                if difference > worst:
                    worst, where = difference, f"{group}, step {number}"
            beyond = [g for g, d in differences.items() if d > tolerance.rel]
            if beyond and all(math.isfinite(differences[g]) for g in beyond):
                exact = exact or _Float64Step(parts)  # the second opinion
                truth = exact.step(state, images_u8, labels, lr)
                ours = _differences(state.tensors, ran.tensors, truth, params)
                eagers = _differences(state.tensors, eager.tensors, truth, params)
                ratio = max(_ratio(ours[g], eagers[g]) for g in beyond)
                ratios.append(ratio)
                agree = agree and ratio <= ACCURACY_RATIO
            elif beyond:
                agree = False
            wrong += abs(int(ran.tensors["correct"]) - int(eager.tensors["correct"]))
            images += len(labels)
            state = eager
            if not agree:
                break  # failed: the remaining steps would not change that
    finally:
        first.restore(parts)
    ok = agree and wrong <= tolerance.correct * images
    reason = (
        f"max relative difference {worst:.1e} ({where}; tolerance {tolerance.rel:g})"
        if worst
        else f"bitwise equal (tolerance {tolerance.rel:g})"
    )
    if ratios:
        reason += (
            f", {max(ratios):.2g}x eager's distance from the float64 step (allowed "
            f"{ACCURACY_RATIO:g}x)"
        )
    reason += (
        f", {wrong} of {images} predictions apart (tolerance {tolerance.correct:.0%}), "
        f"over {number} step{'s' if number > 1 else ''}"
    )
    return CheckResult(
        executor.name, precision, ok, reason, worst, tolerance.rel, time.perf_counter() - started
    )


def failed_check(
    executor: str, precision: str, err: BaseException, seconds: float = 0.0
) -> CheckResult:
    """The check of an executor that raised (while it was built, or in its steps)."""
    return CheckResult(
        executor,
        precision,
        False,
        f"raised {_one_line(err)}",
        None,
        tolerance_for(executor, precision).rel,
        seconds,
    )


def precision_of(parts: StepParts) -> str:
    return "bf16" if parts.autocast_dtype == torch.bfloat16 else "fp32"


class _Float64Step:
    """The eager step in float64 on a copy of the net: the second opinion's reference."""

    def __init__(self, parts: StepParts) -> None:
        self.parts = parts
        # NCHW: float64 convolutions have no channels_last kernels (2-3x slower on a CPU).
        self.model = copy.deepcopy(parts.model).to(
            torch.float64, memory_format=torch.contiguous_format
        )
        group = parts.optimizer.param_groups[0]
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=group["lr"],
            momentum=group["momentum"],
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
        )

    def step(
        self, start: StepState, images_u8: torch.Tensor, labels: torch.Tensor, lr: float
    ) -> dict[str, torch.Tensor]:
        parts, model = self.parts, self.model
        with torch.no_grad():
            for key, value in model.state_dict().items():
                value.copy_(start.tensors[f"model.{key}"])
            self.optimizer.state.clear()
            for name, param in model.named_parameters():
                buffer = start.tensors.get(f"momentum.{name}")
                if buffer is not None:
                    self.optimizer.state[param] = {"momentum_buffer": buffer.double()}
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        logits = model(normalize(images_u8, parts.mean, parts.std, dtype=torch.float64))
        loss = F.cross_entropy(logits, labels, label_smoothing=parts.label_smoothing)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            truth = {f"model.{k}": v.detach().clone() for k, v in model.state_dict().items()}
            for name, param in model.named_parameters():
                buffer = self.optimizer.state.get(param, {}).get("momentum_buffer")
                if buffer is not None:
                    truth[f"momentum.{name}"] = buffer.clone()
            truth["loss_sum"] = start.tensors["loss_sum"] + loss.detach() * len(labels)
        return truth


def _differences(
    before: dict[str, torch.Tensor],
    ran: dict[str, torch.Tensor],
    reference: dict[str, torch.Tensor],
    params: set[str],
) -> dict[str, float]:
    """``|ran - reference| / |reference - before|`` of the parameters, BN statistics,
    momentum buffers and loss sum, each as one vector; inf for a value finite in one
    result and not in the other, and for unequal integer buffers (named)."""
    sums: dict[str, list[torch.Tensor]] = {}
    for key, b in reference.items():
        if key == "correct":
            continue
        a = ran[key]
        if not b.is_floating_point():
            if not torch.equal(a, b):
                return {key: math.inf}
            continue
        start = before.get(key)
        a, b = a.double(), b.double()
        start = torch.zeros_like(b) if start is None else start.double()
        fa, fb = torch.isfinite(a), torch.isfinite(b)
        diff = torch.where(fa & fb, a - b, torch.where(fa == fb, 0.0, math.inf))
        change = torch.where(fb & torch.isfinite(start), b - start, 0.0)
        group = (
            "parameters"
            if key in params
            else "momentum"
            if key.startswith("momentum.")
            else "BN statistics"
            if key.startswith("model.")
            else key
        )
        zero = torch.zeros((), dtype=torch.float64, device=b.device)
        total = sums.get(group, [zero, zero])
        sums[group] = [total[0] + diff.square().sum(), total[1] + change.square().sum()]
    if not sums:
        return {}
    values = torch.stack([torch.stack(v) for v in sums.values()]).tolist()  # one transfer
    return {
        group: _ratio(math.sqrt(d), math.sqrt(c))
        for group, (d, c) in zip(sums, values, strict=True)
    }


def _ratio(a: float, b: float) -> float:
    return 0.0 if a == 0 else math.inf if b == 0 else a / b


def _one_line(err: BaseException, limit: int = 300) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
