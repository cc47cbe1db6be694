"""Pretrained weights: metadata, download from the Hugging Face Hub, integrity, loading.

Every published weight is named ``arch.tag`` (``resnet56.cifar10_v1``, as in timm) and
described by a :class:`Weights` entry in ``cifarnets/pretrained/manifest.json``. Its
file is a safetensors file (never a pickle) that lives in two places with the same
bytes: the Hub repo ``hub_repo`` at the pinned commit ``hub_revision``, and the package
itself (``cifarnets/pretrained/<arch>.<tag>.safetensors``, wheel included). Loading
tries the Hub first (a file already in the Hugging Face cache needs no network at a
pinned commit), falls back to the package copy when the Hub cannot be reached, and
always checks size and sha256 before the file is read.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ._registry import model_info

__all__ = [
    "HUB_FILENAME",
    "UnknownWeightsError",
    "Weights",
    "WeightsError",
    "WeightsIntegrityError",
    "WeightsUnavailableError",
    "default_weights",
    "fetch",
    "get_weights",
    "list_weights",
    "load_state_dict",
    "load_weights_file",
]

HUB_FILENAME = "model.safetensors"
_HUB_TIMEOUT_S = 10
_PRETRAINED_DIR = "pretrained"
_MANIFEST = "manifest.json"


class WeightsError(Exception):
    """Base class of every weights error, so that callers can catch them together."""


class UnknownWeightsError(WeightsError, ValueError):
    """No published weights match the request."""


class WeightsUnavailableError(WeightsError, RuntimeError):
    """Neither the Hub nor the package could provide the weights file."""


class WeightsIntegrityError(WeightsError, RuntimeError):
    """A weights file does not have the published size or sha256, or does not fit the net."""


@dataclass(frozen=True)
class Weights:
    """One published weight and everything needed to use, trust and reproduce it."""

    arch: str  # registry name of the net: "resnet56"
    tag: str  # data set + recipe + version: "cifar10_v1"
    dataset: str  # "cifar10" or "cifar100"
    num_classes: int
    mean: tuple[float, float, float]  # the normalisation the net was trained with
    std: tuple[float, float, float]
    sha256: str  # of the safetensors file, checked before every load
    file_size: int  # bytes
    num_params: int
    hub_repo: str  # "cifarnets/resnet56.cifar10_v1"
    hub_revision: str | None  # pinned Hub commit; None until the file is uploaded
    # {"test_error": % on the full test set, final epoch, of *this* file;
    #  "seeds": [...], "test_error_per_seed": [...], "test_error_mean": ..., "test_error_std": ...}
    metrics: Mapping[str, Any] = field(default_factory=dict)
    # {"command": exact command that trained it, "config": the full training config}
    recipe: Mapping[str, Any] = field(default_factory=dict)
    # {"time_s": wall-clock training time, "hardware": "...", "torch": "...", "commit": "..."}
    training: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.arch}.{self.tag}"

    @property
    def filename(self) -> str:
        """The file's name inside the package."""
        return f"{self.name}.safetensors"

    @property
    def test_error(self) -> float | None:
        return self.metrics.get("test_error")

    @property
    def family(self) -> str:
        return model_info(self.arch).family

    @property
    def report_label(self) -> str | None:
        """The row of the seed report's Table 1 that these weights reproduce."""
        return model_info(self.arch).report_label

    @property
    def macs(self) -> int:
        """Multiply-accumulates per 32x32 image, for this head size."""
        info = model_info(self.arch)
        return info.macs + (self.num_classes - 10) * info.num_features

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Weights:
        data = dict(data)
        data["mean"], data["std"] = tuple(data["mean"]), tuple(data["std"])
        return cls(**data)


# -- the table -------------------------------------------------------------------------

def pretrained_dir() -> Path:
    """The folder of ``manifest.json`` and the weight files: the package's own, or
    ``$CIFARNETS_PRETRAINED_DIR`` (a private weight set, or a test's)."""
    override = os.environ.get("CIFARNETS_PRETRAINED_DIR")
    return Path(override) if override else Path(str(resources.files("cifarnets") / _PRETRAINED_DIR))


@cache
def _read_manifest(path: Path) -> tuple[dict[str, Weights], dict[str, str]]:
    try:
        data = json.loads(path.read_text())
        table = {w.name: w for w in map(Weights.from_dict, data["weights"])}
        defaults = dict(data["default"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise WeightsError(
            f"cannot read the weights manifest {path}: {err}. Fix: reinstall cifarnets, "
            f"or point CIFARNETS_PRETRAINED_DIR at a folder with a valid manifest.json"
        ) from err
    for arch, tag in defaults.items():
        if f"{arch}.{tag}" not in table:
            raise WeightsError(f"{path}: default {arch}.{tag} is not in its weights list")
    return table, defaults


def _manifest() -> tuple[dict[str, Weights], dict[str, str]]:
    """``({name: Weights}, {arch: default tag})``; read once per manifest path."""
    return _read_manifest(pretrained_dir() / _MANIFEST)


def write_manifest(table: Mapping[str, Weights], defaults: Mapping[str, str]) -> Path:
    """Replace the manifest (atomically) with ``table`` and ``defaults``."""
    path = pretrained_dir() / _MANIFEST
    data = {"default": dict(sorted(defaults.items())),
            "weights": [w.to_dict() for w in table.values()]}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
    _read_manifest.cache_clear()
    return path


def list_weights(pattern: str | None = None) -> list[str]:
    """Names (``arch.tag``) of the published weights, optionally filtered by a glob."""
    names = list(_manifest()[0])
    return [n for n in names if pattern is None or fnmatch.fnmatchcase(n, pattern)]


def default_weights(arch: str) -> Weights | None:
    """The weights ``pretrained=True`` loads for ``arch``, or None if none are published."""
    table, defaults = _manifest()
    tag = defaults.get(arch)
    return table[f"{arch}.{tag}"] if tag else None


def get_weights(spec: str | Weights, arch: str | None = None) -> Weights:
    """Resolve ``"DEFAULT"``, a tag (``"cifar10_v1"``) or a full name to a :class:`Weights`.

    ``arch`` is the net the weights are for; it is needed for ``"DEFAULT"`` and tags.
    """
    if isinstance(spec, Weights):
        found = spec
    elif not isinstance(spec, str):
        raise TypeError(
            f"weights must be 'DEFAULT', a tag, 'arch.tag' or a Weights, got {type(spec).__name__}"
        )
    elif spec == "DEFAULT":
        if arch is None:
            raise ValueError("weights='DEFAULT' needs the architecture it is for")
        found = default_weights(arch)
        if found is None:
            raise UnknownWeightsError(
                f"no pretrained weights are published for {arch} yet "
                f"(published: {', '.join(list_weights()) or 'none'}). Build it without weights "
                f"for random init (pretrained=False; `--weights random` on the command line), "
                f"or train them: python benchmarks/reproduce.py --models {arch}"
            )
    else:
        name = spec if "." in spec else f"{arch}.{spec}"
        found = _manifest()[0].get(name)
        if found is None:
            available = list_weights(f"{arch}.*" if arch else None)
            raise UnknownWeightsError(
                f"unknown weights {spec!r} for {arch or 'any net'}; "
                f"published: {', '.join(available) or 'none'}"
            )
    if arch is not None and found.arch != arch:
        raise UnknownWeightsError(
            f"weights {found.name} are for {found.arch}, not {arch}: "
            f"build {found.arch} instead, or pick one of "
            f"{', '.join(list_weights(arch + '.*')) or 'none (none published for ' + arch + ')'}"
        )
    return found


# -- fetching and checking -------------------------------------------------------------

def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, weights: Weights, how_to_fix: str) -> None:
    size = path.stat().st_size
    if size != weights.file_size:
        raise WeightsIntegrityError(
            f"{path} ({weights.name}) is {size:,} bytes, expected {weights.file_size:,} "
            f"(truncated or replaced). {how_to_fix}"
        )
    actual = sha256_of(path)
    if actual != weights.sha256:
        raise WeightsIntegrityError(
            f"{path} ({weights.name}) has sha256 {actual}, expected {weights.sha256} "
            f"(corrupted or replaced). {how_to_fix}"
        )


def _fetch_from_hub(weights: Weights, cache_dir: str | Path | None) -> Path:
    from huggingface_hub import (
        constants,
        get_hf_file_metadata,
        hf_hub_download,
        hf_hub_url,
        try_to_load_from_cache,
    )

    repo, revision = weights.hub_repo, weights.hub_revision
    cached = try_to_load_from_cache(repo, HUB_FILENAME, revision=revision, cache_dir=cache_dir)
    if not isinstance(cached, str) and not _hub_offline():
        # One plain HEAD first. When the Hub cannot be reached, hf_hub_download retries
        # with back-off for ~20 s before it gives up; this fails within one timeout.
        try:
            get_hf_file_metadata(hf_hub_url(repo, HUB_FILENAME, revision=revision),
                                 timeout=_HUB_TIMEOUT_S)
        except OSError:
            raise  # the Hub answered (huggingface_hub's errors are OSErrors)
        except Exception as err:  # the transport's (httpx/httpx2) connection errors
            raise ConnectionError(f"cannot reach {constants.ENDPOINT}: {err}") from err
    return Path(hf_hub_download(repo, HUB_FILENAME, revision=revision, cache_dir=cache_dir))


def fetch(weights: Weights, *, cache_dir: str | Path | None = None) -> Path:
    """Path to the verified weights file: from the Hub (cache), else from the package.

    Honours ``HF_HUB_OFFLINE`` (then only the Hugging Face cache and the package are
    used). A file that fails its size or sha256 check is an error, never a fallback:
    the message names the file and how to recover.
    """
    hub_error: Exception | None = None
    if weights.hub_revision is not None:
        try:
            path = _fetch_from_hub(weights, cache_dir)
        except OSError as err:  # every huggingface_hub network/cache error is an OSError
            hub_error = err
        else:
            _verify(path, weights, f"Fix: delete the cached copy (rm -r "
                                   f"{_repo_cache_dir(path)}) and load again to download it.")
            return path
    packaged = pretrained_dir() / weights.filename
    if packaged.is_file():
        if hub_error is not None and not _hub_offline():
            warnings.warn(
                f"{weights.name}: the Hub could not provide {weights.hub_repo}@"
                f"{weights.hub_revision} ({_describe(hub_error)}); using the copy shipped "
                f"with cifarnets",
                stacklevel=3,
            )
        _verify(packaged, weights, "Fix: reinstall cifarnets (pip install --force-reinstall).")
        return packaged
    if hub_error is None:
        where = "it has not been uploaded to the Hub yet"
        fix = "reinstall cifarnets from a wheel that ships its weights"
    else:
        where = (f"the Hub ({weights.hub_repo}@{weights.hub_revision}) failed with "
                 f"{_describe(hub_error)}")
        if _hub_offline() or isinstance(hub_error, ConnectionError):
            fix = ("connect to the internet (and unset HF_HUB_OFFLINE), or install a "
                   "cifarnets wheel that ships its weights")
        else:  # the Hub answered: the manifest names a repo, revision or file it lacks
            fix = ("upgrade cifarnets (its manifest names a repo or revision the Hub does "
                   "not have), or install a cifarnets wheel that ships its weights")
    raise WeightsUnavailableError(
        f"cannot get {weights.name}: {where}, and this installation has no packaged copy "
        f"({packaged}). Fix: {fix}."
    )


def _describe(err: Exception) -> str:
    """An exception on one line (the Hub's messages span several)."""
    return " ".join(f"{type(err).__name__}: {err}".split())


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _repo_cache_dir(path: Path) -> Path:
    """``.../models--org--name`` for a file in the Hugging Face cache."""
    for parent in path.parents:
        if parent.name.startswith("models--"):
            return parent
    return path.parent


def _read_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise WeightsIntegrityError(
            f"{path} ({what}) is not a readable safetensors file: {err}"
        ) from err


def load_state_dict(
    weights: str | Weights, arch: str | None = None, *, cache_dir: str | Path | None = None
) -> dict[str, torch.Tensor]:
    """The verified state dict of published weights (see :func:`get_weights`)."""
    weights = get_weights(weights, arch)
    return _read_state_dict(fetch(weights, cache_dir=cache_dir), weights.name)


def load_checked(model: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str) -> nn.Module:
    """Load ``state_dict`` into ``model`` if it fits exactly; return the model in eval mode.

    Every key and shape is checked first, so that a mismatch raises (naming the keys)
    and leaves the model untouched: PyTorch's own ``load_state_dict`` copies the
    matching tensors before it reports the rest.
    """
    expected = model.state_dict()
    missing = sorted(expected.keys() - state_dict.keys())
    unexpected = sorted(state_dict.keys() - expected.keys())
    wrong_shape = [
        f"{k}: file {tuple(state_dict[k].shape)}, net {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} keys ({', '.join(missing[:4])}...)")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} keys ({', '.join(unexpected[:4])}...)")
    if wrong_shape:
        problems.append("wrong shapes: " + "; ".join(wrong_shape[:4]))
    if problems:
        hint = ""
        if any(k.startswith("module.") for k in state_dict):
            hint = " (keys start with 'module.': strip that DataParallel prefix)"
        raise WeightsIntegrityError(
            f"{what} does not fit {type(model).__name__}: {'; '.join(problems)}{hint}"
        )
    model.load_state_dict(state_dict)
    return model.eval()


def load_weights_file(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a local safetensors state dict (e.g. from a training run) into ``model``.

    Checks every key and shape first; returns the model, switched to eval mode.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    return load_checked(model, _read_state_dict(path, "weights file"), str(path))
