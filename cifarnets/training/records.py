"""A chunk's record: which epochs of a run were trained where, how, and with what.

One :class:`ChunkRecord` per call of ``train`` that touched a run, written by the engine
into the run's ``chunks.json``, its checkpoint and its ``summary.json``, and read back
through :meth:`ChunkRecord.from_dict` by everything else (results, publish, the
benchmarks). ``from_dict`` reads the records of every earlier version (they lack the
fields added since, which then take their defaults), keeps keys it does not know, and
gives back exactly what it read from ``to_dict``: a chunks.json that is read and written
again changes only by the chunk that was added.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChunkRecord", "ExecutorFallback"]


@dataclass(frozen=True)
class ExecutorFallback:
    """An executor that failed its check during a chunk, and the one that trained instead.

    ``difference`` is the largest relative difference measured against the eager step
    (None when the executor raised), ``tolerance`` what it had to stay within.
    """

    executor: str  # the executor that failed
    to: str  # the executor that trained instead
    reason: str  # one line: the measured difference, or the exception
    epoch: int  # the (1-based) epoch before whose step ``step`` the check ran
    step: int  # the run's global step (0-based)
    difference: float | None = None
    tolerance: float | None = None

    def describe(self) -> str:
        return f"{self.executor} -> {self.to} (epoch {self.epoch}): {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutorFallback:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclass
class ChunkRecord:
    """One chunk of a run: epochs added, machine, runtime, wall time, and how it ended.

    ``executor`` is the executor that trained (at the end of the chunk, after any
    fallback); ``executor_asked`` what the runtime asked for ("auto" or a name; None in
    records written before it was recorded); ``fallbacks`` each executor dropped on the
    way, in order; ``check_s`` the seconds spent checking executors against the eager
    step (including the executor's own compilation or capture, which its first
    checked step pays).
    """

    index: int
    start_epoch: int
    end_epoch: int
    epochs_added: int = 0
    wall_s: float = 0.0
    started_at: str | None = None  # ISO 8601, UTC
    host: str | None = None
    hardware: str | None = None
    device: str | None = None
    torch: str | None = None
    cuda: str | None = None
    cifarnets: str | None = None
    commit: str | None = None
    command: str | None = None
    executor: str | None = None
    precision: str | None = None
    channels_last: bool | None = None
    threads: int | None = None
    stopped: str | None = None  # why the chunk stopped early, or the run's final status
    # Added with the executor checks; absent from older records (then omitted again).
    executor_asked: str | None = None
    fallbacks: list[ExecutorFallback] = field(default_factory=list)
    check_s: float | None = None
    # Keys this version does not know (a newer version's), written back unchanged.
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        """The machine and how it trained: ``CPU X (compile, fp32)``."""
        return f"{self.hardware} ({self.executor}, {self.precision})"

    def to_dict(self) -> dict[str, Any]:
        data = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in _NEWER and f.name != "extra"
        }
        if self.executor_asked is not None or self.fallbacks or self.check_s is not None:
            data.update(
                executor_asked=self.executor_asked,
                fallbacks=[f.to_dict() for f in self.fallbacks],
                check_s=self.check_s,
            )
        return {**data, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkRecord:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        values["fallbacks"] = [ExecutorFallback.from_dict(f) for f in data.get("fallbacks", [])]
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})


_NEWER = ("executor_asked", "fallbacks", "check_s")
