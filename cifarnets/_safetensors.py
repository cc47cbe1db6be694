"""safetensors files whose bytes depend only on their contents.

``safetensors.torch.save`` writes the ``__metadata__`` map in a random order (a Rust
HashMap, seeded per process), so the same tensors and metadata give a different file and
sha256 in every process. cifarnets publishes sha256s, so it rewrites the header with
sorted keys (the format allows any order and space padding; readers are unaffected).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import save

__all__ = ["RUN_STATE_KEY", "atomic_write", "canonical_bytes"]

# The metadata key that marks a training checkpoint (a run's state), not a weights file.
RUN_STATE_KEY = "cifarnets.run_state"


def canonical_bytes(
    tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None
) -> bytes:
    """The safetensors file of ``tensors`` (and string ``metadata``), byte-reproducible."""
    data = save(dict(tensors), metadata=dict(metadata) if metadata else None)
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", None)
    ordered = {}
    if meta:
        ordered["__metadata__"] = dict(sorted(meta.items()))
    # Tensors in the order of their data (as written), which is deterministic already.
    ordered.update(sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]))
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # the data stays 8-byte aligned
    return len(text).to_bytes(8, "little") + text + data[8 + n :]


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write via a temporary file, fsync and rename: a kill never leaves a torn file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
