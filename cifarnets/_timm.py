"""Make every net creatable with ``timm.create_model("cifar_<name>")``.

timm only creates nets that are in its own registry, so cifarnets registers one thin
entrypoint per net, with a pretrained config per published weight (so that
``timm.list_pretrained("cifar_*")`` lists them). The ``cifar_`` prefix keeps patterns
such as ``timm.list_models("resnet20*")`` from mixing these nets with timm's ImageNet
ResNets (resnet200), and vice versa. Weights still come through cifarnets
(sha256-checked):

>>> import cifarnets, timm
>>> model = timm.create_model("cifar_resnet56", pretrained=True)                 # DEFAULT
>>> model = timm.create_model("cifar_resnet56.cifar10_akamaster", pretrained=True)  # a tag
>>> model = timm.create_model("cifar_resnet56", features_only=True)   # stem + 3 stages
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from timm.models import (
    FeatureListNet,
    adapt_input_conv,
    generate_default_cfgs,
    is_model,
    register_model,
)
from torch import nn

from ._registry import TIMM_PREFIX, list_models
from .datasets import dataset_for
from .errors import UnknownWeightsError, WeightsError, WeightsUnavailableError
from .hub import cached_repo_file, download_repo_file, download_url, sha256_of
from .loading import load_checked, load_weights_file
from .models import get_model
from .nets import CifarResNet, check_pool
from .weights import (
    HUB_FILENAME,
    Weights,
    default_weights,
    get_weights,
    list_weights,
    pretrained_cfg_for,
)

__all__ = ["register"]


def _read_cfg(cfg: Any, overlay: dict | None) -> tuple[str | None, dict[str, Any]]:
    """(cifarnets tag, the config) named by what timm passes: ``pretrained_cfg`` (a tag
    string, or a dict/PretrainedCfg from ``hf-hub:``, ``local-dir:`` or a registered
    tag) with ``pretrained_cfg_overlay`` on top, as timm's own builders merge them."""
    if cfg is None or isinstance(cfg, str):
        tag, cfg = (cfg or None), {}
    else:
        cfg = cfg if isinstance(cfg, dict) else cfg.to_dict()
        tag = None
    cfg = {**cfg, **(overlay or {})}
    return cfg.get("tag") or tag, cfg


def _named_source(cfg: dict[str, Any], listed: Weights | None) -> tuple[str, Any] | None:
    """The weights a config names other than cifarnets' own, as ``(kind, where)``, in
    timm's own order (``timm.models._builder._resolve_pretrained_source``): the source
    the model name gave (``hf-hub:``, ``local-dir:``), then a ``state_dict``, a ``file``,
    a Hub repo cifarnets does not list (``hf_hub_id``), a ``url``."""
    repo = cfg.get("hf_hub_id")
    foreign_repo = repo if repo and (listed is None or listed.hub_repo != repo) else None
    if cfg.get("source") == "hf-hub" and repo:
        return ("hf_hub_id", str(repo)) if foreign_repo else None
    if cfg.get("source") == "local-dir" and cfg.get("file"):
        return "file", str(cfg["file"])
    if cfg.get("state_dict") is not None:
        return "state_dict", cfg["state_dict"]
    if cfg.get("file"):
        return "file", str(cfg["file"])
    if foreign_repo:
        return "hf_hub_id", str(foreign_repo)
    if cfg.get("url"):
        return "url", str(cfg["url"])
    return None


def _fetch_named_file(kind: str, where: str, cfg: dict[str, Any], cache_dir: str | None) -> Path:
    """The local path of a named file (a folder names its model.safetensors); checked to
    be a safetensors file that exists."""
    if kind == "file":
        path = Path(where).expanduser()
        path = path / HUB_FILENAME if path.is_dir() else path
    elif kind == "url":
        path = download_url(where, cache_dir=cache_dir)
    else:
        path = download_repo_file(
            where, cfg.get("hf_hub_filename") or HUB_FILENAME, cache_dir=cache_dir
        )
    if not path.is_file():
        raise WeightsUnavailableError(
            f"{where} names no weights file ({path} does not exist). Fix: name a folder "
            f"holding {HUB_FILENAME} (`cifarnets publish hub --dry-run` writes one), a "
            f".safetensors file, or a finished run's weights.safetensors"
        )
    if path.suffix != ".safetensors":
        raise WeightsError(
            f"{path} is not a .safetensors file: cifarnets loads weights from safetensors "
            f"only (never a pickle). Fix: convert it, e.g. safetensors.torch.save_file("
            f"torch.load(PATH, weights_only=True), 'model.safetensors')"
        )
    return path


def _card_sha256(kind: str, where: str, cfg: dict[str, Any]) -> tuple[str, str] | None:
    """(sha256, where it is stated) of the file a card names, where the card states one:
    the config.json beside the file (``publish hub`` writes it), or the overlay."""
    if cfg.get("sha256"):
        return str(cfg["sha256"]), "pretrained_cfg_overlay"
    if kind == "file":
        named = Path(where).expanduser()
        config = (named if named.is_dir() else named.parent) / "config.json"
        if not config.is_file():
            return None
    elif kind == "hf_hub_id":
        config = cached_repo_file(where, "config.json")
        if config is None:
            return None
    else:
        return None
    try:
        stated = json.loads(config.read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None  # timm has read this config already; a card without a hash is fine
    return (str(stated), str(config)) if stated else None


def _head_size(path: Path) -> int | None:
    """The classifier's size in a weights file (its ``fc.weight`` rows), if it has one."""
    with safe_open(str(path), framework="pt") as f:
        return f.get_slice("fc.weight").get_shape()[0] if "fc.weight" in f.keys() else None  # noqa: SIM118


def _build_with_named_weights(
    name: str,
    kind: str,
    where: Any,
    cfg: dict[str, Any],
    cache_dir: str | None,
    kwargs: dict[str, Any],
) -> CifarResNet:
    """The net with the weights a config names, that very file: checked against its
    card's sha256 (a mismatch is a warning naming both: the user's file is what they
    asked for), then every key and shape; the head the config names (else the file's,
    else the one asked for), and the config's normalisation."""
    wanted = kwargs.pop("num_classes", None)
    if kind == "state_dict":
        path = None
        head = cfg.get("num_classes") or (
            where["fc.weight"].shape[0] if "fc.weight" in where else None
        )
    else:
        path = _fetch_named_file(kind, where, cfg, cache_dir)
        stated = _card_sha256(kind, where, cfg)
        if stated is not None and (actual := sha256_of(path)) != stated[0]:
            warnings.warn(
                f"{path} has sha256 {actual}, but {stated[1]} states {stated[0]}: "
                f"loading the file you named; its card describes other bytes",
                stacklevel=5,
            )
        head = cfg.get("num_classes") or _head_size(path)
    model = get_model(name, num_classes=head or wanted or 10, **kwargs)
    if path is None:
        load_checked(model, where, "pretrained_cfg's state_dict")
    else:
        load_weights_file(model, path)
    given = {k: tuple(cfg[k]) for k in ("mean", "std") if cfg.get(k)}
    model.pretrained_cfg = {**model.pretrained_cfg, **given}
    if wanted is not None and wanted != model.num_classes:
        model.reset_classifier(wanted)  # as timm does: a fresh head
    return model


# timm's training scripts pass these; the paper's nets have no dropout or drop-path.
_REGULARISERS = ("drop_rate", "drop_path_rate", "drop_block_rate")


def _pop_timm_only_arguments(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take out what timm passes that the builders do not take: the regularisers (only
    when off) and where to put the net (returned, for ``model.to``)."""
    for key in _REGULARISERS:
        value = kwargs.pop(key, None)
        if value:
            raise ValueError(
                f"{TIMM_PREFIX}{name} has no {key.removesuffix('_rate')} (He et "
                f"al.'s nets have none); got {key}={value!r}, expected 0 or None"
            )
    return {k: kwargs.pop(k) for k in ("device", "dtype") if kwargs.get(k) is not None}


def _make_entrypoint(name: str) -> Callable[..., nn.Module]:
    def entrypoint(
        pretrained: bool = False,
        pretrained_cfg: Any = None,
        pretrained_cfg_overlay: dict | None = None,
        cache_dir: str | None = None,
        features_only: bool = False,
        out_indices: tuple[int, ...] | None = None,
        global_pool: str | None = None,
        in_chans: int = 3,
        **kwargs,
    ) -> nn.Module:
        placement = _pop_timm_only_arguments(name, kwargs)
        tag, cfg = _read_cfg(pretrained_cfg, pretrained_cfg_overlay)
        listed = _weights_or_none(f"{name}.{tag}") if tag else None
        named = _named_source(cfg, listed) if pretrained else None
        if named is not None:
            # Weights that cifarnets does not list (a local folder, a file, a URL, your
            # own Hub upload, a state dict): those very weights.
            model = _build_with_named_weights(name, *named, cfg, cache_dir, kwargs)
        else:
            weights = (tag or "DEFAULT") if pretrained else None
            model = get_model(name, weights=weights, cache_dir=cache_dir, **kwargs)
            if not pretrained:
                # As timm's nets: the data config of the tag, or of the DEFAULT weights
                # of the net's data set, also when training from scratch.
                chosen = listed if tag else default_weights(name, dataset_for(model.num_classes))
                if chosen is not None:
                    model.pretrained_cfg = _cfg(name, chosen)
        if global_pool is not None:
            _set_pool(model, global_pool)
        if in_chans != 3:
            _adapt_input_channels(model, in_chans)
        if pretrained_cfg_overlay:  # described, as timm does; a state dict is no description
            overlay = {k: v for k, v in pretrained_cfg_overlay.items() if k != "state_dict"}
            model.pretrained_cfg = {**model.pretrained_cfg, **overlay}
        if placement:
            model.to(**placement)
        if features_only:
            levels = len(model.feature_info)
            features = FeatureListNet(model, out_indices=out_indices or tuple(range(levels)))
            features.pretrained_cfg = features.default_cfg = model.pretrained_cfg
            return features
        return model

    entrypoint.__name__ = entrypoint.__qualname__ = TIMM_PREFIX + name
    entrypoint.__module__ = __name__
    entrypoint.__doc__ = f"cifarnets.{name} for timm.create_model (see cifarnets.{name})."
    return entrypoint


def _adapt_input_channels(model: nn.Module, in_chans: int) -> None:
    """A stem for ``in_chans``-channel input; trained RGB filters are adapted as timm
    adapts them (summed for 1 channel, repeated and rescaled for more)."""
    old = model.conv1
    new = nn.Conv2d(in_chans, old.out_channels, 3, padding=1, bias=False)
    with torch.no_grad():
        new.weight.copy_(adapt_input_conv(in_chans, old.weight))
    model.conv1 = new
    model.pretrained_cfg = {**model.pretrained_cfg, "input_size": (in_chans, 32, 32)}


def _set_pool(model: nn.Module, global_pool: str) -> None:
    check_pool(global_pool, model.num_classes)
    model.global_pool = global_pool


def _weights_or_none(full_name: str) -> Weights | None:
    try:
        return get_weights(full_name)
    except UnknownWeightsError:  # not listed; a broken manifest still says so loudly
        return None


def _cfg(arch: str, weights: Weights | None) -> dict[str, Any]:
    """timm's pretrained config of ``arch`` with ``weights`` (or none)."""
    cfg = pretrained_cfg_for(arch, weights)
    if weights is not None:
        cfg["hf_hub_id"] = weights.hub_repo  # has_weights: what list_pretrained lists
    return cfg


def _build_default_cfgs() -> dict[str, Any]:
    """timm's ``default_cfgs`` for every net: one entry per published weight (the
    DEFAULT first), or one without weights."""
    cfgs: dict[str, Any] = {}
    for arch in list_models():
        default = default_weights(arch)
        names = sorted(
            list_weights(f"{arch}.*"), key=lambda n: (default is None or n != default.name, n)
        )
        if not names:
            cfgs[TIMM_PREFIX + arch] = _cfg(arch, None)
        for full_name in names:
            weights = get_weights(full_name)
            cfgs[f"{TIMM_PREFIX}{arch}.{weights.tag}"] = _cfg(arch, weights)
    return generate_default_cfgs(cfgs)


def register() -> None:
    """Register every net (and its published weights' configs) with timm, once."""
    module = sys.modules[__name__]
    if getattr(module, "_registered", False):
        return
    # timm's register_model reads them from the entrypoint's module, by this name.
    module.default_cfgs = _build_default_cfgs()
    for name in list_models():
        if not is_model(TIMM_PREFIX + name):
            register_model(_make_entrypoint(name))
    module._registered = True
