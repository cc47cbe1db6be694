"""Pretrained weights: metadata, download from the Hugging Face Hub, integrity, loading.

Every published weight is named ``arch.tag`` (``resnet56.cifar10_v1``, as in timm) and
described by a :class:`Weights` entry in ``cifarnets/pretrained/manifest.json``. Its
file is a safetensors file (never a pickle) that lives in two places with the same
bytes: the Hub repo ``hub_repo`` at the pinned commit ``hub_revision``, and the package
itself (``cifarnets/pretrained/<arch>.<tag>.safetensors``, wheel included). Loading
tries the Hub first (a file already in the Hugging Face cache needs no network at a
pinned commit), falls back to the package copy when the Hub cannot provide the file,
and always checks size and sha256 before the file is read.

This module only reads; writing manifests is publishing's job (``cifarnets.publish``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from ._registry import model_info
from ._safetensors import RUN_STATE_KEY
from ._version import __version__

__all__ = [
    "HUB_FILENAME",
    "UnknownWeightsError",
    "Weights",
    "WeightsError",
    "WeightsIntegrityError",
    "WeightsTransforms",
    "WeightsUnavailableError",
    "default_weights",
    "fetch",
    "get_model_weights",
    "get_weights",
    "list_weights",
    "load_state_dict",
    "load_weights_file",
]

HUB_FILENAME = "model.safetensors"
MANIFEST = "manifest.json"
_HUB_TIMEOUT_S = 10
_HUB_RETRIES_S = (0.5, 1.5)  # waits before retrying a Hub that answered 5xx


class WeightsError(Exception):
    """Base class of every weights error, so that callers can catch them together."""


class UnknownWeightsError(WeightsError, ValueError):
    """No published weights match the request."""


class WeightsUnavailableError(WeightsError, RuntimeError):
    """Neither the Hub nor the package could provide the weights file."""


class WeightsIntegrityError(WeightsError, RuntimeError):
    """A weights file does not have the published size or sha256, or does not fit the net."""


def _pil_to_tensor(image) -> torch.Tensor:
    """A PIL image as a uint8 (3, H, W) RGB tensor."""
    import numpy as np

    return torch.from_numpy(np.array(image.convert("RGB"), copy=True)).permute(2, 0, 1)


class WeightsTransforms:
    """The preprocessing a weight was trained with: RGB images to the net's input.

    Takes PIL images, uint8 tensors (0..255) or float tensors in [0, 1], shaped
    (N, 3, H, W) or (3, H, W), and returns float32 normalised with the weight's own mean and std
    (which differ between weights: the ported akamaster nets use ImageNet's).
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.mean, self.std = tuple(mean), tuple(std)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if type(images).__module__.startswith("PIL."):  # torchvision data sets' images
            images = _pil_to_tensor(images)
        if not isinstance(images, torch.Tensor) or images.ndim not in (3, 4) or \
                images.shape[-3] != 3:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
            raise ValueError(f"expected a PIL image or an RGB image tensor (N, 3, H, W) or "
                             f"(3, H, W), got {shape}")
        if images.dtype == torch.uint8:
            x = images.float() / 255
        else:
            x = images.float()
            top = float(x.max()) if x.numel() else 0.0
            if top > 1.0 + 1e-3:  # 0..255 floats: silently wrong
                raise ValueError(f"float images must be in [0, 1], got values up to "
                                 f"{top:.4g}; pass uint8 images or divide by 255")
        shape = (3, 1, 1)
        mean = torch.tensor(self.mean, device=x.device).view(shape)
        std = torch.tensor(self.std, device=x.device).view(shape)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"WeightsTransforms(mean={self.mean}, std={self.std})"


@dataclass(frozen=True)
class Weights:
    """One published weight and everything needed to use, trust and reproduce it."""

    arch: str  # registry name of the net: "resnet56"
    tag: str  # data set + recipe + version: "cifar10_v1", "cifar10_akamaster"
    dataset: str  # "cifar10" or "cifar100"
    num_classes: int
    mean: tuple[float, float, float]  # the normalisation the net was trained with
    std: tuple[float, float, float]
    sha256: str  # of the safetensors file, checked before every load
    file_size: int  # bytes
    num_params: int
    hub_repo: str  # "cifarnets/resnet56.cifar10_v1"
    hub_revision: str | None  # pinned Hub commit; None until the file is uploaded
    # {"test_error": % on the full test set, final epoch, of *this* file, in fp32;
    #  "test_images": 10000, "selection": how the checkpoint was chosen,
    #  "selected_on_test": whether the test set chose it; per-seed numbers, each saying
    #  what it was measured on}
    metrics: Mapping[str, Any] = field(default_factory=dict)
    # {"name": recipe name, "command": the command that reproduces it, "config": ...}
    recipe: Mapping[str, Any] = field(default_factory=dict)
    # {"time_s": training time, "hardware": [...], "torch": ..., "chunks": ...}
    training: Mapping[str, Any] = field(default_factory=dict)
    license: str = "MIT"  # of the weights file
    # Where ported weights come from: {"repository", "commit", "file", "file_sha256",
    # "license", "copyright"}; empty for the project's own.
    source: Mapping[str, Any] = field(default_factory=dict)
    categories: tuple[str, ...] = ()  # class names, index order (torchvision's meta)
    # Published from a run that is not its recipe's full experiment (publish --allow-partial).
    partial: bool = False

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
    def selected_on_test(self) -> bool:
        """True when the checkpoint was picked for its test error (optimistic number)."""
        return bool(self.metrics.get("selected_on_test", False))

    @property
    def ported(self) -> bool:
        return bool(self.source)

    @property
    def family(self) -> str:
        return model_info(self.arch).family

    @property
    def report_label(self) -> str | None:
        """The row of the seed report's Table 1 that this net corresponds to."""
        return model_info(self.arch).report_label

    @property
    def macs(self) -> int:
        """Multiply-accumulates per 32x32 image, for this head size."""
        info = model_info(self.arch)
        return info.macs + (self.num_classes - 10) * info.num_features

    @property
    def meta(self) -> dict[str, Any]:
        """torchvision-style metadata: categories, num_params, metrics, recipe, license."""
        return {"categories": list(self.categories), "num_params": self.num_params,
                "metrics": dict(self.metrics), "recipe": dict(self.recipe),
                "license": self.license, "source": dict(self.source)}

    def transforms(self) -> WeightsTransforms:
        """The preprocessing these weights expect (their own mean and std)."""
        return WeightsTransforms(self.mean, self.std)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Weights:
        data = dict(data)
        data["mean"], data["std"] = tuple(data["mean"]), tuple(data["std"])
        data["categories"] = tuple(data.get("categories", ()))
        return cls(**data)


# -- the table -------------------------------------------------------------------------

def pretrained_dir() -> Path:
    """The folder of ``manifest.json`` and the weight files: the package's own, or
    ``$CIFARNETS_PRETRAINED_DIR`` (a private weight set, or a test's)."""
    override = os.environ.get("CIFARNETS_PRETRAINED_DIR")
    return Path(override) if override else Path(str(resources.files("cifarnets") / "pretrained"))


def _private_dir() -> bool:
    return bool(os.environ.get("CIFARNETS_PRETRAINED_DIR"))


def _fix_for_folder() -> str:
    if _private_dir():
        return (f"fix or replace it in your weights folder CIFARNETS_PRETRAINED_DIR="
                f"{pretrained_dir()} (or unset that variable to use cifarnets' own)")
    return "reinstall cifarnets (pip install --force-reinstall cifarnets)"


@cache
def read_manifest(path: Path) -> tuple[dict[str, Weights], dict[str, dict[str, str]]]:
    """``({name: Weights}, {arch: {dataset: default tag}})`` of one manifest file."""
    try:
        data = json.loads(path.read_text())
        table = {w.name: w for w in map(Weights.from_dict, data["weights"])}
        defaults = {arch: dict(tags) for arch, tags in data["default"].items()}
    except FileNotFoundError:
        if _private_dir() and path.parent.is_dir():  # an empty private folder: no weights yet
            return {}, {}
        if _private_dir():  # most likely a typo: never "no weights" in silence
            raise WeightsError(
                f"CIFARNETS_PRETRAINED_DIR={path.parent} does not exist. Fix: correct the "
                f"path, create the folder, or unset it to use the weights shipped with "
                f"cifarnets") from None
        raise WeightsError(f"the weights manifest {path} is missing. Fix: "
                           f"{_fix_for_folder()}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise WeightsError(
            f"cannot read the weights manifest {path}: {err}. Fix: {_fix_for_folder()}"
        ) from err
    for arch, tags in defaults.items():
        for dataset, tag in tags.items():
            found = table.get(f"{arch}.{tag}")
            if found is None or found.dataset != dataset:
                raise WeightsError(f"{path}: the {dataset} default of {arch}, {arch}.{tag}, "
                                   f"is not a {dataset} weight in its list")
    return table, defaults


def _manifest() -> tuple[dict[str, Weights], dict[str, dict[str, str]]]:
    return read_manifest(pretrained_dir() / MANIFEST)


def list_weights(pattern: str | None = None) -> list[str]:
    """Names (``arch.tag``) of the published weights, optionally filtered by a glob."""
    return [n for n in _manifest()[0] if pattern is None or fnmatch.fnmatchcase(n, pattern)]


def get_model_weights(arch: str) -> list[Weights]:
    """Every published weight of the net ``arch`` (torchvision's ``get_model_weights``)."""
    model_info(arch)  # UnknownModelError for a wrong name
    return [w for w in _manifest()[0].values() if w.arch == arch]


def default_weights(arch: str, dataset: str = "cifar10") -> Weights | None:
    """The weights ``pretrained=True`` loads for ``arch`` trained on ``dataset``, or None.

    The project's own weights are the DEFAULT of their net; ported weights are the
    DEFAULT only until the project has its own for that net (and data set).
    """
    table, defaults = _manifest()
    tag = defaults.get(arch, {}).get(dataset)
    return table[f"{arch}.{tag}"] if tag else None


def _accepted(arch: str | None) -> str:
    """The forms ``weights=`` takes, with examples that exist."""
    published = list_weights(f"{arch}.*" if arch else None) or list_weights()
    example = published[0] if published else "resnet56.cifar10_v1"
    return (f'"DEFAULT", a tag such as "{example.split(".", 1)[1]}", a full name such as '
            f'"{example}", or a cifarnets.Weights (a local .safetensors file loads with '
            f'cifarnets.load_weights_file(model, path))')


def get_weights(spec: str | Weights, arch: str | None = None, *,
                dataset: str = "cifar10") -> Weights:
    """Resolve ``"DEFAULT"``, a tag (``"cifar10_v1"``) or a full name to a :class:`Weights`.

    ``arch`` is the net the weights are for; it is needed for ``"DEFAULT"`` and tags.
    """
    if isinstance(spec, Weights):
        found = spec
    elif not isinstance(spec, str):
        raise TypeError(f"weights must be {_accepted(arch)}; got a {type(spec).__name__}")
    elif spec == "DEFAULT":
        if arch is None:
            raise ValueError("weights='DEFAULT' needs the architecture it is for")
        found = default_weights(arch, dataset) or default_weights(arch, "cifar10")
        if found is None:
            raise UnknownWeightsError(
                f"no pretrained weights are published for {arch} yet (published: "
                f"{', '.join(list_weights()) or 'none'}). Build it without weights for random "
                f"init (pretrained=False; `--weights random` on the command line), or train "
                f"them: cifarnets train --models {arch}"
            )
    else:
        name = spec if "." in spec else f"{arch}.{spec}"
        found = _manifest()[0].get(name)
        if found is None:
            available = list_weights(f"{arch}.*" if arch else None)
            raise UnknownWeightsError(
                f"unknown weights {spec!r} for {arch or 'any net'}. Accepted: {_accepted(arch)}. "
                f"Published{' for ' + arch if arch else ''}: "
                f"{', '.join(available) or 'none'}"
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


class _HubUnreachable(ConnectionError):
    """The Hub could not be reached (or kept failing): the package copy may stand in."""


class _HubRefused(OSError):
    """The Hub answered, but has no such repo, revision or file (or the id is invalid)."""


def _hub_call(what: str, call):
    """Run a huggingface_hub call; classify whatever it raises as unreachable or refused.

    The transport's own errors (httpx in huggingface_hub 1.x, httpx2 in 2.x) are not
    OSErrors, and a connection dropped mid-download surfaces as one of them.
    """
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError

    for attempt, wait in enumerate((*_HUB_RETRIES_S, None)):
        try:
            return call()
        except HFValidationError as err:
            raise _HubRefused(f"invalid Hub repo id or revision ({_one_line(err)})") from err
        except HfHubHTTPError as err:
            status = getattr(getattr(err, "response", None), "status_code", None)
            if status is not None and status >= 500:  # the Hub is having trouble: retry
                if wait is not None:
                    time.sleep(wait)
                    continue
                raise _HubUnreachable(f"{constants.ENDPOINT} answered HTTP {status} "
                                      f"{attempt + 1} times ({what})") from err
            raise _HubRefused(_one_line(err)) from err
        except LocalEntryNotFoundError as err:  # offline, or nothing cached after a failure
            raise _HubUnreachable(_one_line(err)) from err
        except Exception as err:  # connection refused, reset, timed out, dropped mid-file
            raise _HubUnreachable(f"cannot reach {constants.ENDPOINT} ({what}): "
                                  f"{_one_line(err)}") from err
    raise AssertionError("unreachable")


def _fetch_from_hub(weights: Weights, cache_dir: str | Path | None,
                    force_download: bool = False) -> Path:
    from huggingface_hub import (
        get_hf_file_metadata,
        hf_hub_download,
        hf_hub_url,
        try_to_load_from_cache,
    )

    repo, revision = weights.hub_repo, weights.hub_revision
    cached = _hub_call("cache lookup", lambda: try_to_load_from_cache(
        repo, HUB_FILENAME, revision=revision, cache_dir=cache_dir))
    if (force_download or not isinstance(cached, str)) and not _hub_offline():
        # One plain HEAD first. When the Hub cannot be reached, hf_hub_download retries
        # with back-off for ~20 s before it gives up; this fails within one timeout.
        _hub_call("HEAD", lambda: get_hf_file_metadata(
            hf_hub_url(repo, HUB_FILENAME, revision=revision), timeout=_HUB_TIMEOUT_S))
    return Path(_hub_call("download", lambda: hf_hub_download(
        repo, HUB_FILENAME, revision=revision, cache_dir=cache_dir,
        force_download=force_download, library_name="cifarnets",
        library_version=__version__)))


def fetch(weights: Weights, *, cache_dir: str | Path | None = None) -> Path:
    """Path to the verified weights file: from the Hub (cache), else from the package.

    Honours ``HF_HUB_OFFLINE`` (then only the Hugging Face cache and the package are
    used). A file that fails its size or sha256 check is never loaded: a damaged cached
    copy is downloaded again (with a warning); a Hub that serves other bytes than the
    published ones, or cannot be reached, and a damaged cache that cannot be downloaded
    again (offline, Hub down), give way to the package copy (with a warning); without
    one, the error says what happened and what to do.
    """
    hub_error: Exception | None = None
    if weights.hub_revision is not None:
        try:
            return _fetch_verified_from_hub(weights, cache_dir)
        except (_HubUnreachable, _HubRefused, _HubMismatch, WeightsIntegrityError) as err:
            hub_error = err  # a damaged cache that could not be healed is one of these
    packaged = pretrained_dir() / weights.filename
    if packaged.is_file():
        damaged_cache = isinstance(hub_error, WeightsIntegrityError)
        if hub_error is not None and (damaged_cache or not _hub_offline()):
            warnings.warn(
                f"{weights.name}: the Hub could not provide {weights.hub_repo}@"
                f"{weights.hub_revision} ({_one_line(hub_error)}); using the copy "
                + (f"in CIFARNETS_PRETRAINED_DIR={pretrained_dir()}" if _private_dir()
                   else "shipped with cifarnets"), stacklevel=3,
            )
        _verify(packaged, weights, f"Fix: {_fix_for_folder()}.")
        return packaged
    if isinstance(hub_error, WeightsIntegrityError):
        raise hub_error  # it names the damaged file and how to heal it
    # Where a copy of the file would come from: the user's own folder, or a wheel.
    copy = (f"put {weights.filename} into your weights folder CIFARNETS_PRETRAINED_DIR="
            f"{pretrained_dir()} (`cifarnets publish add` writes it there)" if _private_dir()
            else "install a cifarnets wheel that ships its weights")
    if hub_error is None:
        where = "it has not been uploaded to the Hub yet"
        fix = copy if _private_dir() else "reinstall cifarnets from a wheel that ships its weights"
    else:
        where = f"the Hub ({weights.hub_repo}@{weights.hub_revision}) failed: {hub_error}"
        if _hub_offline() or isinstance(hub_error, _HubUnreachable):
            fix = f"connect to the internet (and unset HF_HUB_OFFLINE), or {copy}"
        elif isinstance(hub_error, _HubMismatch):
            fix = (f"deleting the cache will not help (the Hub itself serves other bytes); "
                   f"{copy}, and report it")
        else:  # the Hub answered: the manifest names a repo, revision or file it lacks
            fix = (f"upgrade cifarnets (its manifest names a repo or revision the Hub does "
                   f"not have), or {copy}")
    raise WeightsUnavailableError(
        f"cannot get {weights.name}: {where}, and this installation has no packaged copy "
        f"({packaged}). Fix: {fix}."
    ) from hub_error


class _HubMismatch(OSError):
    """The Hub served, twice, a file that is not the published one."""


def _fetch_verified_from_hub(weights: Weights, cache_dir: str | Path | None) -> Path:
    path = _fetch_from_hub(weights, cache_dir)
    try:
        _verify(path, weights, "")
        return path
    except WeightsIntegrityError as damaged:
        if _hub_offline():
            raise WeightsIntegrityError(
                f"{damaged} Fix: delete the cached copy (rm -r {_repo_cache_dir(path)}) and "
                f"load again online (HF_HUB_OFFLINE is set)."
            ) from None
        first = str(damaged)
    try:  # a damaged cache heals by downloading again
        path = _fetch_from_hub(weights, cache_dir, force_download=True)
    except _HubUnreachable as err:
        raise WeightsIntegrityError(
            f"{first} Downloading it again failed ({err}). Fix: delete the cached copy "
            f"(rm -r {_repo_cache_dir(path)}) and load again when the Hub is reachable."
        ) from err
    try:
        _verify(path, weights, "")
    except WeightsIntegrityError as again:
        raise _HubMismatch(f"the Hub's file does not match the published sha256 even "
                           f"when downloaded again ({again})") from None
    warnings.warn(f"{weights.name}: the cached copy was damaged ({first}); downloaded it "
                  f"again and verified it", stacklevel=4)
    return path


def _one_line(err: BaseException) -> str:
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


def read_safetensors(path: Path, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(tensors, metadata)`` of a safetensors file; never unpickles anything."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsIntegrityError(
            f"{path} ({what}) is not a readable safetensors file: {err}. Fix: it is "
            f"truncated or damaged; copy or download it again (published weights are "
            f"fetched again when the damaged copy is deleted)"
        ) from err


def load_state_dict(
    weights: str | Weights, arch: str | None = None, *, cache_dir: str | Path | None = None
) -> dict[str, torch.Tensor]:
    """The verified state dict of published weights (see :func:`get_weights`)."""
    weights = get_weights(weights, arch)
    return read_safetensors(fetch(weights, cache_dir=cache_dir), weights.name)[0]


def load_checked(model: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str,
                 *, skip: tuple[str, ...] = ()) -> nn.Module:
    """Load ``state_dict`` into ``model`` if it fits exactly; return the model in eval mode.

    Every key and shape is checked first, so that a mismatch raises (naming the keys)
    and leaves the model untouched: PyTorch's own ``load_state_dict`` copies the
    matching tensors before it reports the rest. Keys starting with one of ``skip``
    (a replaced classifier) are neither loaded nor required.
    """
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith(skip)}
    state_dict = {k: v for k, v in state_dict.items() if not k.startswith(skip)}
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
        if any(k.startswith("linear.") for k in state_dict):
            hint = (" (an akamaster/pytorch_resnet_cifar10 checkpoint? convert it: "
                    "cifarnets convert akamaster SRC.th OUT.safetensors)")
        raise WeightsIntegrityError(
            f"{what} does not fit {type(model).__name__}: {'; '.join(problems)}{hint}"
        )
    model.load_state_dict(state_dict, strict=not skip)
    return model.eval()


def load_weights_file(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a local safetensors state dict (a training run's, a converted checkpoint)
    into ``model``; return it in eval mode.

    Checks every key and shape first, and the net the file says it is for (its
    ``arch`` metadata), so that a resnet20 file never loads into a plain20 of the same
    shapes. Afterwards ``model.pretrained_weights`` describes this file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    state_dict, meta = read_safetensors(path, "weights file")
    if RUN_STATE_KEY in meta:
        raise WeightsError(
            f"{path} is a training checkpoint (model, optimizer and progress of a run), not "
            f"a weights file: the run writes weights.safetensors beside it when it finishes, "
            f"and its per-epoch test error is in log.csv there. Fix: let the run finish "
            f"(`cifarnets train` with the run's options continues it)"
        )
    arch = arch_of(model)
    if meta.get("arch") and arch and meta["arch"] != arch:
        raise WeightsIntegrityError(
            f"{path} holds weights of {meta['arch']} (its metadata says so), but the net is "
            f"{arch}: build cifarnets.{meta['arch']}() for it"
        )
    # Described before loading: a file whose metadata cannot be read leaves the net and
    # its description as they were, never new weights under the old description.
    described = local_weights(path, meta, model, arch)
    load_checked(model, state_dict, str(path))
    model.pretrained_weights = described
    return model


def local_weights(path: Path, meta: Mapping[str, str], model: nn.Module,
                  arch: str | None) -> Weights:
    """A :class:`Weights` describing a local file (tag ``local``), from its metadata."""
    from .data import dataset_for, get_dataset_spec

    # Without metadata, the data set the net's head is for (100 outputs: CIFAR-100).
    dataset = meta.get("dataset") or dataset_for(int(getattr(model, "num_classes", 10)))
    try:
        spec = get_dataset_spec(dataset)
        mean = tuple(json.loads(meta["mean"])) if "mean" in meta else spec.mean
        std = tuple(json.loads(meta["std"])) if "std" in meta else spec.std
    except ValueError as err:  # json's errors are ValueErrors too
        raise WeightsIntegrityError(
            f"{path} has metadata cifarnets cannot read ({err}): its dataset, mean and std "
            f"say how to preprocess its inputs. Fix the file's metadata (cifarnets writes "
            f"dataset cifar10 or cifar100, mean and std as JSON lists); nothing was loaded"
        ) from err
    source = {"path": str(path.resolve()), **{k: v for k, v in meta.items()
                                              if k in ("converted_from", "run", "recipe")}}
    if "mean" not in meta or "std" not in meta:  # say so rather than pass a guess off as fact
        source["normalisation"] = (f"assumed: the file does not say; {dataset}'s mean and std "
                                   f"are used")
    if "dataset" not in meta:
        source["dataset"] = f"assumed {dataset}: the file does not say"
    return Weights(
        arch=meta.get("arch") or arch or type(model).__name__, tag="local", dataset=dataset,
        num_classes=int(getattr(model, "num_classes", 0)), mean=mean, std=std,
        sha256=sha256_of(path), file_size=path.stat().st_size,
        num_params=sum(p.numel() for p in model.parameters()), hub_repo="", hub_revision=None,
        # A local file's terms are its author's: nothing here says they are the project's.
        license=meta.get("license", "unknown"), source=source,
    )


def arch_of(model: nn.Module) -> str | None:
    """The registry name of a CifarResNet's architecture, if it has one."""
    from ._registry import _INFO

    block = getattr(model, "block", None)
    depth = getattr(model, "depth", None)
    shortcut = getattr(model, "shortcut", "?")
    for info in _INFO.values():
        if (info.block, info.depth, info.shortcut) == (block, depth, shortcut):
            return info.name
    return None
