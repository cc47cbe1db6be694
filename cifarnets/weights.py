"""Pretrained weights: what each one is, the manifest that lists them, and the look-ups.

Every published weight is named ``arch.tag`` (``resnet56.cifar10_v1``, as in timm) and
described by a :class:`Weights` entry in ``cifarnets/pretrained/manifest.json``. Its
file is a safetensors file (never a pickle) that lives in two places with the same
bytes: the Hub repo ``hub_repo`` at the pinned commit ``hub_revision``, and the package
itself (``cifarnets/pretrained/<arch>.<tag>.safetensors``, wheel included). Fetching
and checking the file is ``cifarnets.hub``'s job, loading it ``cifarnets.loading``'s.

This module reads without torch (``cifarnets list`` and ``info`` use it) and only
reads: writing manifests is publishing's job (``cifarnets.publish``).
"""

from __future__ import annotations

import enum
import fnmatch
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ._registry import TIMM_PREFIX, model_info
from ._registry import list_models as registry_models
from .datasets import CATEGORIES, DATASETS, dataset_for
from .errors import (  # the weights errors, importable from here as before
    UnknownWeightsError,
    WeightsError,
    WeightsIntegrityError,
    WeightsUnavailableError,
    WeightsUnreachableError,
)

__all__ = [
    "HUB_FILENAME",
    "MANIFEST",
    "UnknownWeightsError",
    "Weights",
    "WeightsEnum",
    "WeightsError",
    "WeightsIntegrityError",
    "WeightsTransforms",
    "WeightsUnavailableError",
    "WeightsUnreachableError",
    "default_weights",
    "get_model_weights",
    "get_weight",
    "get_weights",
    "list_models",
    "list_weights",
    "ships_in_package",
    "pretrained_cfg_for",
    "pretrained_dir",
    "read_manifest",
]

HUB_FILENAME = "model.safetensors"
MANIFEST = "manifest.json"


class WeightsTransforms:
    """The preprocessing a weight was trained with: RGB images to the net's input.

    Takes PIL images, uint8 tensors (0..255) or float tensors in [0, 1], shaped
    (N, 3, H, W) or (3, H, W), and returns float32 normalised with the weight's own mean and std
    (which differ between weights: the ported akamaster nets use ImageNet's).
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.mean, self.std = tuple(mean), tuple(std)

    def __call__(self, images):
        # torch loads when the transforms are used: this module is read without it.
        import torch

        if type(images).__module__.startswith("PIL."):  # torchvision data sets' images
            images = _pil_to_tensor(images)
        if (
            not isinstance(images, torch.Tensor)
            or images.ndim not in (3, 4)
            or images.shape[-3] != 3
        ):
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
            raise ValueError(
                f"expected a PIL image or an RGB image tensor (N, 3, H, W) or "
                f"(3, H, W), got {shape}"
            )
        if images.dtype == torch.uint8:
            x = images.float() / 255
        else:
            x = images.float()
            top = float(x.max()) if x.numel() else 0.0
            if top > 1.0 + 1e-3:  # 0..255 floats: silently wrong
                raise ValueError(
                    f"float images must be in [0, 1], got values up to "
                    f"{top:.4g}; pass uint8 images or divide by 255"
                )
        shape = (3, 1, 1)
        mean = torch.tensor(self.mean, device=x.device).view(shape)
        std = torch.tensor(self.std, device=x.device).view(shape)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"WeightsTransforms(mean={self.mean}, std={self.std})"


def _pil_to_tensor(image):
    """A PIL image as a uint8 (3, H, W) RGB tensor."""
    import numpy as np
    import torch

    return torch.from_numpy(np.array(image.convert("RGB"), copy=True)).permute(2, 0, 1)


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
        """The row of the lab report's Table 1 that this net corresponds to."""
        return model_info(self.arch).report_label

    @property
    def macs(self) -> int:
        """Multiply-accumulates per 32x32 image, for this head size."""
        info = model_info(self.arch)
        return info.macs + (self.num_classes - 10) * info.num_features

    @property
    def meta(self) -> dict[str, Any]:
        """torchvision-style metadata: categories, num_params, metrics, recipe, license."""
        return {
            "categories": list(self.categories),
            "num_params": self.num_params,
            "metrics": dict(self.metrics),
            "recipe": dict(self.recipe),
            "license": self.license,
            "source": dict(self.source),
        }

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


def is_private_dir() -> bool:
    return bool(os.environ.get("CIFARNETS_PRETRAINED_DIR"))


def how_to_fix_folder() -> str:
    if is_private_dir():
        return (
            f"fix or replace it in your weights folder CIFARNETS_PRETRAINED_DIR="
            f"{pretrained_dir()} (or unset that variable to use cifarnets' own)"
        )
    return "reinstall cifarnets (pip install --force-reinstall cifarnets)"


@cache
def read_manifest(path: Path) -> tuple[dict[str, Weights], dict[str, dict[str, str]]]:
    """``({name: Weights}, {arch: {dataset: default tag}})`` of one manifest file."""
    try:
        data = json.loads(path.read_text())
        table = {w.name: w for w in map(Weights.from_dict, data["weights"])}
        defaults = {arch: dict(tags) for arch, tags in data["default"].items()}
    except FileNotFoundError:
        if is_private_dir() and path.parent.is_dir():  # an empty private folder: no weights yet
            return {}, {}
        if is_private_dir():  # most likely a typo: never "no weights" in silence
            raise WeightsError(
                f"CIFARNETS_PRETRAINED_DIR={path.parent} does not exist. Fix: correct the "
                f"path, create the folder, or unset it to use the weights shipped with "
                f"cifarnets"
            ) from None
        raise WeightsError(
            f"the weights manifest {path} is missing. Fix: {how_to_fix_folder()}"
        ) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise WeightsError(
            f"cannot read the weights manifest {path}: {err}. Fix: {how_to_fix_folder()}"
        ) from err
    for arch, tags in defaults.items():
        for dataset, tag in tags.items():
            found = table.get(f"{arch}.{tag}")
            if found is None or found.dataset != dataset:
                raise WeightsError(
                    f"{path}: the {dataset} default of {arch}, {arch}.{tag}, "
                    f"is not a {dataset} weight in its list"
                )
    return table, defaults


def _manifest() -> tuple[dict[str, Weights], dict[str, dict[str, str]]]:
    return read_manifest(pretrained_dir() / MANIFEST)


def list_weights(pattern: str | None = None) -> list[str]:
    """Names (``arch.tag``) of the published weights, optionally filtered by a glob."""
    return [n for n in _manifest()[0] if pattern is None or fnmatch.fnmatchcase(n, pattern)]


class WeightsEnum(enum.Enum):
    """A net's published weights in torchvision's form: ``get_model_weights("resnet56")``
    is an enum class (``ResNet56_Weights``) whose members are the weights, by tag
    (``.cifar10_v1``, or in torchvision's capitals ``.CIFAR10_V1``), with ``.DEFAULT``
    among them; iterating gives each weight once. A member has its :class:`Weights`
    attributes (``.transforms()``, ``.meta``, ``.test_error``...) and goes wherever a
    ``Weights`` does (``resnet56(weights=ResNet56_Weights.DEFAULT)``); as for any enum,
    ``.name`` is the member's name and ``.value`` the :class:`Weights`."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # enum's own machinery (copy, pickle) never delegates
            raise AttributeError(name)
        return getattr(self.value, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __reduce_ex__(self, protocol: int):
        # The class is made per net at run time: pickle the member as (net, name).
        return _weights_member, (self.value.arch, self.name)


def _weights_member(arch: str, name: str) -> WeightsEnum:
    return getattr(get_model_weights(arch), name)


def weights_enum_name(arch: str) -> str:
    """torchvision's name of a net's weights enum: resnet56 -> ResNet56_Weights."""
    return arch.replace("resnet", "ResNet").replace("plain", "Plain") + "_Weights"


# One enum class per net and manifest read, so that members compare with `is`; the table
# is kept with them (its id stays its own), and a new read replaces them all.
_ENUMS: dict[str, type[WeightsEnum]] = {}
_ENUMS_TABLE: list[object] = [None]
_ENUMS_LOCK = threading.Lock()

# Names an enum member cannot have (Python's enum refuses "mro"), and names with a
# meaning of their own: publish refuses them as tags, and the enum leaves them out.
RESERVED_TAGS = frozenset({"mro", "default", "random"})


def get_model_weights(arch: str) -> type[WeightsEnum]:
    """The published weights of the net ``arch`` as torchvision's ``get_model_weights``
    gives them: an enum class (see :class:`WeightsEnum`), also importable as
    ``cifarnets.weights.ResNet56_Weights``. A net without weights gives an empty one (no
    ``DEFAULT``)."""
    model_info(arch)  # UnknownModelError for a wrong name
    table, _ = _manifest()
    with _ENUMS_LOCK:
        if _ENUMS_TABLE[0] is not table:
            _ENUMS.clear()
            _ENUMS_TABLE[0] = table
        if arch not in _ENUMS:
            _ENUMS[arch] = _make_enum(arch, table)
        return _ENUMS[arch]


def _make_enum(arch: str, table: Mapping[str, Weights]) -> type[WeightsEnum]:
    default = default_weights(arch)
    ordered = sorted(
        (w for w in table.values() if w.arch == arch and w.tag.lower() not in RESERVED_TAGS),
        key=lambda w: w != default,
    )  # the DEFAULT first, then by name
    members: dict[str, Weights] = {w.tag: w for w in ordered}
    for tag, w in list(members.items()):  # aliases: the same member
        members.setdefault(tag.upper(), w)
    if default is not None:
        members["DEFAULT"] = default
    name = weights_enum_name(arch)
    return WeightsEnum(name, members, module=__name__, qualname=name)


def __getattr__(name: str) -> type[WeightsEnum]:
    # cifarnets.weights.ResNet56_Weights, as torchvision has them (pickling the class
    # finds it here too).
    by_enum_name = {weights_enum_name(a): a for a in registry_models()}
    if name in by_enum_name:
        return get_model_weights(by_enum_name[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_weights(arch: str, dataset: str = "cifar10") -> Weights | None:
    """The weights ``pretrained=True`` loads for ``arch`` trained on ``dataset``, or None.

    The project's own weights are the DEFAULT of their net; ported weights are the
    DEFAULT only until the project has its own for that net (and data set).
    """
    table, defaults = _manifest()
    tag = defaults.get(arch, {}).get(dataset)
    return table[f"{arch}.{tag}"] if tag else None


# What the package (the wheel) ships; README "Weights" has the decision and the measured
# sizes. The DEFAULT weights of the paper's nets up to 110 layers always ship, so that
# pretrained=True works offline for them (about 32 MB once all ten are trained), and so
# does every weight the Hub does not serve yet: a file nobody could fetch is never left
# out. Once pinned on the Hub, the rest (other tags, the lab report's bottleneck nets,
# resnet1202 at 79 MB) is downloaded on first use instead of weighing on every install.
PACKAGED_MAX_DEPTH = 110


def ships_in_package(weights: Weights, is_default: bool | None = None) -> bool:
    """Whether ``weights``' file belongs in the package (see ``PACKAGED_MAX_DEPTH``);
    ``is_default``: whether it is its net's DEFAULT (default: as the manifest says)."""
    if weights.hub_revision is None:
        return True
    if is_default is None:
        is_default = default_weights(weights.arch, weights.dataset) == weights
    info = model_info(weights.arch)
    return info.family == "paper" and info.depth <= PACKAGED_MAX_DEPTH and is_default


def _accepted(arch: str | None) -> str:
    """The forms ``weights=`` takes, with examples that exist."""
    published = list_weights(f"{arch}.*" if arch else None) or list_weights()
    example = published[0] if published else "resnet56.cifar10_v1"
    return (
        f'"DEFAULT", a tag such as "{example.split(".", 1)[1]}", a full name such as '
        f'"{example}", or a cifarnets.Weights (a local .safetensors file loads with '
        f"cifarnets.load_weights_file(model, path))"
    )


def get_weights(
    spec: str | Weights | WeightsEnum, arch: str | None = None, *, dataset: str = "cifar10"
) -> Weights:
    """Resolve what ``weights=`` takes to a :class:`Weights`: ``"DEFAULT"``, a tag
    (``"cifar10_v1"``), a full name (``"resnet56.cifar10_v1"``, ``"resnet56.DEFAULT"``,
    torchvision's ``"ResNet56_Weights.DEFAULT"`` or ``"ResNet56_Weights.CIFAR10_V1"``), a
    :class:`WeightsEnum` member or a :class:`Weights`.

    ``arch`` is the net the weights are for; it is needed for ``"DEFAULT"`` and tags.
    """
    if isinstance(spec, WeightsEnum):
        spec = spec.value
    if isinstance(spec, Weights):
        found = spec
    elif not isinstance(spec, str):
        raise TypeError(f"weights must be {_accepted(arch)}; got a {type(spec).__name__}")
    elif spec == "DEFAULT":
        found = _default_or_raise(arch, dataset)
    else:
        named_arch, tag = _split_name(spec, arch)
        if tag == "DEFAULT":
            found = _default_or_raise(named_arch, dataset)
        else:
            found = _manifest()[0].get(f"{named_arch}.{tag}") or _by_upper_tag(named_arch, tag)
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


def get_weight(name: str) -> WeightsEnum:
    """torchvision's ``get_weight``: the enum member a full name denotes
    (``"ResNet56_Weights.DEFAULT"``, ``"resnet56.cifar10_v1"``...); it has the
    :class:`Weights`' attributes, and ``.value`` is the :class:`Weights`."""
    weights = get_weights(name)
    members = get_model_weights(weights.arch)
    return next(m for m in members if m.value == weights)


def _split_name(spec: str, arch: str | None) -> tuple[str | None, str]:
    """(net, tag) of ``"tag"``, ``"net.tag"`` or ``"NetN_Weights.TAG"``."""
    if "." not in spec:
        return arch, spec
    head, tag = spec.split(".", 1)
    by_enum_name = {weights_enum_name(a): a for a in registry_models()}
    return by_enum_name.get(head, head), tag


def _by_upper_tag(arch: str | None, tag: str) -> Weights | None:
    """A weight named by torchvision's capitals (``CIFAR10_V1`` for ``cifar10_v1``)."""
    return next(
        (w for w in _manifest()[0].values() if w.arch == arch and w.tag.upper() == tag), None
    )


def _default_or_raise(arch: str | None, dataset: str) -> Weights:
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
    return found


def list_models(pattern: str | None = None, *, pretrained: bool = False) -> list[str]:
    """Registered model names in registry order, optionally filtered by a glob; with
    ``pretrained=True`` (timm's form) only the nets that have published weights.

    >>> list_models("plain*")
    ['plain20', 'plain32', 'plain44', 'plain56', 'plain110', 'plain83', 'plain164']
    """
    names = registry_models(pattern)
    if pretrained:
        with_weights = {w.arch for w in _manifest()[0].values()}
        names = [n for n in names if n in with_weights]
    return names


def _label_names(weights: Weights | None, dataset: str, num_classes: int) -> tuple | None:
    """The class names of a head, when they are known and the head is that size."""
    names = tuple(weights.categories) if weights and weights.categories else None
    names = names or CATEGORIES.get(dataset)
    return names if names and len(names) == num_classes else None


def pretrained_cfg_for(
    arch: str | None, weights: Weights | None, num_classes: int | None = None
) -> dict[str, Any]:
    """timm's pretrained config of a net with ``weights`` (or none): input, pooling,
    layer names, and the normalisation the weights were trained with."""
    if num_classes is None:
        num_classes = weights.num_classes if weights else 10
    dataset = DATASETS[weights.dataset if weights else dataset_for(num_classes)]
    return {
        "architecture": f"{TIMM_PREFIX}{arch}" if arch else None,
        "tag": weights.tag if weights else None,
        "num_classes": num_classes,
        "input_size": (3, 32, 32),
        "pool_size": (8, 8),
        "crop_pct": 1.0,
        "interpolation": "bilinear",
        "mean": tuple(weights.mean) if weights else dataset.mean,
        "std": tuple(weights.std) if weights else dataset.std,
        "first_conv": "conv1",
        "classifier": "fc",
        "license": weights.license if weights else None,
        # timm 1.x reads the class names here (its ImageNetInfo-style label look-ups).
        "label_names": _label_names(weights, dataset.name, num_classes),
    }
