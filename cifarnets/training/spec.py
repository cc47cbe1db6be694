"""What a run *is* (:class:`RunSpec`) and how it is executed (:class:`Runtime`).

The spec (net, data set, recipe, seed, data subsets) is a run's identity: it names its
folder, is stored with it, and a run is only ever continued under the same spec. The
runtime (device, precision, step executor, threads, checkpoint cadence, time budget) may
change from one chunk of a run to the next (another machine, a GPU instead of a CPU) and
is recorded per chunk, never part of the identity.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from .._registry import model_info
from ..datasets import get_dataset_spec
from ..errors import DeviceUnavailableError
from .executors import EXECUTORS, auto_executors
from .recipe import RECIPES, Recipe, get_recipe

__all__ = ["DeviceUnavailableError", "RunSpec", "Runtime", "resolve_device"]


def _positive_int_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


@dataclass(frozen=True)
class RunSpec:
    """One training run: ``model`` trained on ``dataset`` with ``recipe`` from ``seed``.

    ``train_subset`` / ``test_subset`` (first N images) are for quick checks; a run with
    either is not the recipe's experiment and is labelled so.
    """

    model: str
    dataset: str = "cifar10"
    recipe: Recipe = field(default_factory=Recipe)
    seed: int = 0
    train_subset: int | None = None
    test_subset: int | None = None

    def __post_init__(self) -> None:
        model_info(self.model)  # UnknownModelError, with the closest name
        get_dataset_spec(self.dataset)
        object.__setattr__(self, "recipe", get_recipe(self.recipe))
        if not (
            isinstance(self.seed, int)
            and not isinstance(self.seed, bool)
            and 0 <= self.seed < 2**31
        ):
            raise ValueError(f"seed must be a whole number in [0, 2**31), got {self.seed!r}")
        for name in ("train_subset", "test_subset"):
            if not _positive_int_or_none(getattr(self, name)):
                raise ValueError(
                    f"{name} must be None (all images) or a whole number >= 1, "
                    f"got {getattr(self, name)!r}"
                )

    @property
    def name(self) -> str:
        """The run's folder name: ``resnet20-cifar10-report-s0`` (``-train512-test256`` for
        subsets)."""
        name = f"{self.model}-{self.dataset}-{self.recipe.name}-s{self.seed}"
        if self.train_subset is not None:
            name += f"-train{self.train_subset}"
        if self.test_subset is not None:
            name += f"-test{self.test_subset}"
        return name

    @property
    def warmup(self) -> bool:
        return self.recipe.uses_warmup(self.model)

    @property
    def is_full_recipe(self) -> bool:
        """A named recipe on the whole data set: the experiment the recipe describes."""
        return (
            self.train_subset is None
            and self.test_subset is None
            and RECIPES.get(self.recipe.name) == self.recipe
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "seed": self.seed,
            "train_subset": self.train_subset,
            "test_subset": self.test_subset,
            "recipe": self.recipe.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**{**data, "recipe": Recipe.from_dict(data["recipe"])})


def resolve_device(name: str | torch.device | None) -> torch.device:
    """``None``/``"auto"``: the first CUDA device if any, else the CPU. A device that
    does not exist here is a :class:`DeviceUnavailableError` that says which ones do."""
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {name!r}: expected cpu, cuda or cuda:N") from err
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ValueError(f"device {name!r} is not supported: use cpu, cuda or cuda:N")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise DeviceUnavailableError(
            f"device {name!r} asked for, but this machine has no CUDA device: use cpu"
        )
    if device.index is not None and device.index >= count:
        raise DeviceUnavailableError(
            f"device {name!r} asked for, but this machine has "
            f"{count} CUDA device(s): cuda:0..cuda:{count - 1}"
        )
    return device


@dataclass(frozen=True)
class Runtime:
    """How runs execute; free to change between chunks of the same runs.

    * ``device``: "auto" (CUDA if any), "cpu", "cuda", "cuda:N".
    * ``precision``: "auto" (bf16 autocast on CUDA and on a CPU with bf16 instructions,
      else fp32), "bf16" or "fp32".
    * ``executor``: how a step runs: "eager", "compile" (``torch.compile``),
      "cuda_graph" (the whole step captured once and replayed; CUDA only), or "auto"
      (cuda_graph on CUDA, the fastest measured one on a CPU). Every executor but eager
      is checked against the eager step before it trains (``check.py``); one given by
      name that fails its check is an error.
    * ``executor_fallbacks``: the executors to go on with, in order, when ``executor``
      fails its check; "auto" resolves to its first choice and the rest of its order
      (cuda_graph, compile, eager on CUDA; compile, eager on a CPU).
    * ``channels_last``: NHWC activations (faster for these convs on CPU and GPU).
    * ``threads``: CPU threads for torch (None: torch's default).
    * ``checkpoint_every_s``: write a checkpoint at the end of an epoch when this many
      seconds have passed since the last one (0: every epoch). Always at the end of a chunk.
    * ``max_minutes``: stop at the last epoch boundary that fits in this budget.
    """

    device: str = "auto"
    precision: str = "auto"
    executor: str = "auto"
    channels_last: bool = True
    threads: int | None = None
    checkpoint_every_s: float = 60.0
    max_minutes: float | None = None
    eval_batch_size: int = 1000
    progress: bool = True
    executor_fallbacks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {self.precision!r}")
        if self.executor != "auto" and self.executor not in EXECUTORS:
            raise ValueError(
                f"executor must be one of auto, {', '.join(EXECUTORS)}, got {self.executor!r}"
            )
        object.__setattr__(self, "executor_fallbacks", tuple(self.executor_fallbacks))
        unknown = [e for e in self.executor_fallbacks if e not in EXECUTORS]
        if unknown or (self.executor == "auto" and self.executor_fallbacks):
            raise ValueError(
                f"executor_fallbacks must name executors ({', '.join(EXECUTORS)})"
                f" after an executor given by name, got "
                f"{self.executor_fallbacks!r} after {self.executor!r}"
            )
        if not _positive_int_or_none(self.threads):
            raise ValueError(f"threads must be None or a whole number >= 1, got {self.threads!r}")
        if self.max_minutes is not None and not (
            isinstance(self.max_minutes, (int, float)) and self.max_minutes > 0
        ):
            raise ValueError(f"max_minutes must be a number > 0, got {self.max_minutes!r}")
        if not (isinstance(self.checkpoint_every_s, (int, float)) and self.checkpoint_every_s >= 0):
            raise ValueError(f"checkpoint_every_s must be >= 0, got {self.checkpoint_every_s!r}")
        if not _positive_int_or_none(self.eval_batch_size) or self.eval_batch_size is None:
            raise ValueError(f"eval_batch_size must be >= 1, got {self.eval_batch_size!r}")

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)

    def resolved(self) -> Runtime:
        """The same runtime with every "auto" decided for this machine ("auto"'s
        executor: its first choice, the rest of its order as ``executor_fallbacks``)."""
        device = self.torch_device()
        precision = self.precision
        if precision == "auto":
            native = device.type == "cuda" or cpu_has_native_bf16()  # device: cuda or cpu
            precision = "bf16" if native else "fp32"
        executors = [self.executor, *self.executor_fallbacks]
        if self.executor == "auto":
            executors = auto_executors(device)
        if "cuda_graph" in executors and device.type != "cuda":
            raise ValueError(
                "executor 'cuda_graph' needs a CUDA device; on a CPU use 'eager' or 'compile'"
            )
        return dataclasses.replace(
            self,
            device=str(device),
            precision=precision,
            executor=executors[0],
            executor_fallbacks=executors[1:],
        )

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512_BF16 or AMX).

    There bf16 autocast trains ~1.5x faster per epoch than fp32 (the project's Zen 4
    machines, benchmarks/results/epoch-times.md); elsewhere bf16 is emulated, unmeasured
    here, and "auto" keeps fp32.
    """
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def cpu_threads_available() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
