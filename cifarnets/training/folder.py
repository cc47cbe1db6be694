"""A run's folder: every file a run writes, each written atomically.

    run.json                  the run's identity (RunSpec), written first
    checkpoint.safetensors    net + SGD momentum + progress; the only thing a resume reads
    log.csv                   per epoch: lr, train loss/error, test error, times, chunk
    chunks.json               per chunk: epochs added, machine, runtime, wall time
    summary.json              the RunResult (after every chunk; final when finished)
    weights.safetensors       the trained net (finished runs only)

The checkpoint is small (no optimizer state beyond the momentum buffers; resnet20:
2.2 MB) so that unfinished runs can be committed to git after each chunk and continued
on another machine. When a run finishes its checkpoint is removed.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from .._safetensors import RUN_STATE_KEY, atomic_write, canonical_bytes
from ..errors import RunFolderError
from .records import ChunkRecord
from .results import SUMMARY, RunResult, read_result
from .spec import RunSpec

__all__ = ["RunFolder"]

_STATE_KEY = RUN_STATE_KEY


class RunFolder:
    def __init__(self, out_dir: str | Path, spec: RunSpec) -> None:
        self.spec = spec
        self.path = Path(out_dir) / spec.name

    checkpoint = property(lambda self: self.path / "checkpoint.safetensors")
    summary = property(lambda self: self.path / SUMMARY)
    weights = property(lambda self: self.path / "weights.safetensors")
    identity = property(lambda self: self.path / "run.json")

    def claim(self) -> None:
        """Create the folder for this run, or check that it already belongs to it.

        A folder of another run (another recipe definition, data set or seed under the
        same name) is never touched: finished work cannot be overwritten by accident.
        """
        if self.identity.is_file():
            self._check_is_mine(json.loads(self.identity.read_text()))
            return
        if self.path.exists() and any(self.path.iterdir()):
            raise RunFolderError(
                f"{self.path} exists but has no run.json (not written by this version of "
                f"cifarnets). Nothing was changed. Use another --out folder, or move it away."
            )
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write(self.identity, _json(self.spec.to_dict()))

    def _check_is_mine(self, theirs: dict[str, Any]) -> None:
        if RunSpec.from_dict(theirs) != self.spec:
            diff = _diff(self.spec.to_dict(), theirs)
            raise RunFolderError(
                f"{self.path} holds another run with the same name (differences, this "
                f"call vs the folder: {diff}). Nothing was changed. Use another --out "
                f"folder, or move that run away if you mean to replace it."
            )

    def summary_result(self) -> RunResult | None:
        """The last summary written, if any (checked to be this run's)."""
        if not self.summary.is_file():
            return None
        result = read_result(self.path)  # a damaged summary: an error that names it
        self._check_is_mine(result.spec.to_dict())  # even in a folder without run.json
        return result

    def finished_result(self) -> RunResult | None:
        """The run's result if it has finished (or diverged): then it is not trained again."""
        result = self.summary_result()
        if result is None or result.status not in ("finished", "diverged"):
            return None
        return result

    def check_nothing_is_lost(self) -> None:
        """A run that has trained epochs but has no checkpoint lost it (not committed, a
        bad checkout): starting over would overwrite its logs without a word."""
        result = self.summary_result()
        if result is not None and result.epochs > 0 and not self.checkpoint.is_file():
            raise RunFolderError(
                f"{self.path} has trained {result.epochs} epoch(s) (its {SUMMARY}), but its "
                f"checkpoint.safetensors is missing. Nothing was changed. Restore it (git "
                f"checkout -- {self.checkpoint}), or move the folder away to start this run "
                f"over."
            )

    # -- checkpoint -----------------------------------------------------------------------

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        meta = {_STATE_KEY: json.dumps({"progress": state["progress"], "spec": state["spec"]})}
        atomic_write(self.checkpoint, canonical_bytes(state["tensors"], meta))

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The saved state, or None if there is no checkpoint."""
        path = self.checkpoint
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {})[_STATE_KEY])
                tensors: dict[str, torch.Tensor] = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, KeyError, ValueError) as err:
            raise RunFolderError(
                f"{path} is not a readable cifarnets checkpoint ({err}). Nothing was changed. "
                f"If it was damaged (e.g. a bad git checkout), restore it from git "
                f"(git checkout -- {path}); move the run folder away to start this run over."
            ) from err
        if RunSpec.from_dict(meta["spec"]) != self.spec:
            raise RunFolderError(
                f"{path} is a checkpoint of another run (differences, this call vs the "
                f"checkpoint: {_diff(self.spec.to_dict(), meta['spec'])}). Nothing was changed."
            )
        return {"tensors": tensors, **meta}

    # -- logs and results -------------------------------------------------------------------

    def write_logs(self, history: list[dict[str, Any]], chunks: list[ChunkRecord]) -> None:
        if history:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(history[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(history)
            atomic_write(self.path / "log.csv", buffer.getvalue().encode())
        atomic_write(self.path / "chunks.json", _json([c.to_dict() for c in chunks]))

    def write_result(
        self,
        result: RunResult,
        weights: dict[str, torch.Tensor] | None,
        weights_meta: dict[str, str] | None = None,
    ) -> None:
        """The summary; with ``weights``, the final net first, then the checkpoint goes."""
        if weights is not None:
            atomic_write(self.weights, canonical_bytes(weights, weights_meta))
        atomic_write(self.summary, _json(result.to_dict()))
        if result.status != "running":
            self.checkpoint.unlink(missing_ok=True)


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


def _diff(mine: dict[str, Any], theirs: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key), theirs.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.update(_diff(a, b, f"{prefix}{key}."))
        elif a != b:
            out[f"{prefix}{key}"] = (a, b)
    return out
