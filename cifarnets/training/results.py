"""What a run produced, as publish, the report and reproduce read it: :class:`RunResult`.

It is the run's ``summary.json``, read through one class instead of raw keys; every
number says what it was measured on.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RunFolderError
from .records import ChunkRecord
from .spec import RunSpec

__all__ = ["RunResult", "read_result"]

SUMMARY = "summary.json"


@dataclass(frozen=True)
class RunResult:
    spec: RunSpec
    status: str  # "running" (unfinished: more chunks to come), "finished" or "diverged"
    message: str
    epochs: int  # completed
    history: list[dict[str, Any]]  # per epoch: lr, train_loss, train_error, test_error, ...
    chunks: list[ChunkRecord]  # per chunk: epochs added, machine, runtime, wall time
    train_images: int
    test_images: int  # the per-epoch test errors are measured on this many images
    warmup_end_step: int | None = None
    command: str | None = None  # the command of the chunk that finished (or last ran) it
    run_dir: str | None = field(default=None, compare=False)

    # -- derived ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def model(self) -> str:
        return self.spec.model

    @property
    def dataset(self) -> str:
        return self.spec.dataset

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def recipe(self) -> str:
        return self.spec.recipe.name

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def full_recipe(self) -> bool:
        """The named recipe, all of it, on the whole data set: a real reproduction."""
        return self.spec.is_full_recipe and self.epochs == self.spec.recipe.epochs

    @property
    def final_test_error(self) -> float | None:
        """Final-epoch test error (%) measured during training on ``test_images`` images
        (in the training's precision; ``publish add`` re-measures the file in fp32)."""
        return self.history[-1]["test_error"] if self.history else None

    @property
    def final_train_loss(self) -> float | None:
        return self.history[-1]["train_loss"] if self.history else None

    @property
    def time_s(self) -> float:
        """Training time summed over chunks (epochs and evaluation, no start-up)."""
        return self.history[-1]["elapsed_s"] if self.history else 0.0

    @property
    def hardware(self) -> list[str]:
        """Each distinct machine (and executor/precision) that trained this run."""
        return list(dict.fromkeys(chunk.label for chunk in self.chunks))

    @property
    def executor_fallbacks(self) -> list[str]:
        """Each executor that failed its check and what trained instead, one line each:
        ``chunk 2: compile -> eager (epoch 41): raised ...``."""
        return [
            f"chunk {chunk.index}: {f.describe()}" for chunk in self.chunks for f in chunk.fallbacks
        ]

    # -- files --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("run_dir")
        data["spec"] = self.spec.to_dict()
        data["chunks"] = [c.to_dict() for c in self.chunks]
        data.update(
            name=self.name,
            final_test_error=self.final_test_error,
            time_s=round(self.time_s, 2),
            full_recipe=self.full_recipe,
        )
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], run_dir: str | None = None) -> RunResult:
        fields = {
            k: data[k]
            for k in ("status", "message", "epochs", "history", "train_images", "test_images")
        }
        return cls(
            spec=RunSpec.from_dict(data["spec"]),
            run_dir=run_dir,
            chunks=[ChunkRecord.from_dict(c) for c in data["chunks"]],
            warmup_end_step=data.get("warmup_end_step"),
            command=data.get("command"),
            **fields,
        )


def read_result(run_dir: str | Path) -> RunResult:
    """The :class:`RunResult` of a run folder; a clear error if it is not one."""
    run_dir = Path(run_dir)
    path = run_dir / SUMMARY
    if not path.is_file():
        raise RunFolderError(
            f"{run_dir} is not a training run folder (no {SUMMARY}); run folders "
            f"are written by `cifarnets train` / benchmarks/reproduce.py"
        )
    try:
        return RunResult.from_dict(json.loads(path.read_text()), run_dir=str(run_dir))
    except (ValueError, KeyError, TypeError) as err:
        raise RunFolderError(
            f"{path} is not a summary this version of cifarnets can read: {err}"
        ) from err
