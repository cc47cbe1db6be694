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
from .loading import load_weights_file
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


def _named_file(cfg: dict[str, Any], listed: Weights | None) -> tuple[str, str] | None:
    """The weights a config names other than cifarnets' own (kind, where), in timm's
    order: a ``file`` (``local-dir:`` names its folder), a ``url``, a Hub repo that
    cifarnets does not list (``hf-hub:``, or ``hf_hub_id`` in an overlay)."""
    if cfg.get("file"):
        return "file", str(cfg["file"])
    if cfg.get("url"):
        return "url", str(cfg["url"])
    repo = cfg.get("hf_hub_id")
    if repo and (listed is None or listed.hub_repo != repo):
        return "hf_hub_id", str(repo)
    return None


def _fetch_named_file(kind: str, where: str, cfg: dict[str, Any], cache_dir: str | None) -> Path:
    if kind == "file":
        path = Path(where).expanduser()
        return path / HUB_FILENAME if path.is_dir() else path
    if kind == "url":
        return download_url(where, cache_dir=cache_dir)
    return download_repo_file(
        where, cfg.get("hf_hub_filename") or HUB_FILENAME, cache_dir=cache_dir
    )


def _card_sha256(kind: str, where: str, cfg: dict[str, Any]) -> tuple[str, str] | None:
    """(sha256, where it is stated) of the file a card names, where the card states one:
    the config.json beside the file (``publish hub`` writes it), or the overlay."""
    if cfg.get("sha256"):
        return str(cfg["sha256"]), "pretrained_cfg_overlay"
    if kind == "file" and Path(where, "config.json").is_file():
        config = Path(where, "config.json")
    elif kind == "hf_hub_id":
        cached = cached_repo_file(where, "config.json")
        if cached is None:
            return None
        config = cached
    else:
        return None
    try:
        stated = json.loads(config.read_text()).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None  # timm has read this config already; a card without a hash is fine
    return (str(stated), str(config)) if stated else None


def _load_named_file(
    model: CifarResNet, kind: str, where: str, cfg: dict[str, Any], cache_dir: str | None
) -> None:
    """Load the file the config names into ``model``: checked against its card's sha256
    (a mismatch is a warning naming both: the user's file is what they asked for), then
    every key and shape; the folder's or overlay's normalisation describes the input."""
    path = _fetch_named_file(kind, where, cfg, cache_dir)
    if not path.is_file():
        raise WeightsUnavailableError(
            f"{where} names no weights file ({path} does not exist). Fix: point "
            f"{'local-dir:' if kind == 'file' else kind} at a folder holding "
            f"{HUB_FILENAME} (`cifarnets publish hub --dry-run` writes one) or at a "
            f".safetensors file"
        )
    if path.suffix != ".safetensors":
        raise WeightsError(
            f"{path} is not a .safetensors file: cifarnets loads weights from safetensors "
            f"only (never a pickle). Fix: convert it, e.g. safetensors.torch.save_file("
            f"torch.load(PATH, weights_only=True), 'model.safetensors')"
        )
    stated = _card_sha256(kind, where, cfg)
    if stated is not None:
        actual = sha256_of(path)
        if actual != stated[0]:
            warnings.warn(
                f"{path} has sha256 {actual}, but {stated[1]} states {stated[0]}: "
                f"loading the file you named; its card describes other bytes",
                stacklevel=4,
            )
    load_weights_file(model, path)
    given = {k: tuple(cfg[k]) for k in ("mean", "std") if cfg.get(k)}
    model.pretrained_cfg = {**model.pretrained_cfg, **given}


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
        named = _named_file(cfg, listed) if pretrained else None
        if named is not None:
            # Weights that cifarnets does not list (a local folder, a file, a URL, your
            # own Hub upload): that very file, with the head its config names.
            wanted = kwargs.pop("num_classes", None)
            model = get_model(name, num_classes=cfg.get("num_classes") or 10, **kwargs)
            _load_named_file(model, *named, cfg, cache_dir)
            if wanted is not None and wanted != model.num_classes:
                model.reset_classifier(wanted)  # as timm does: a fresh head
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
        if pretrained_cfg_overlay:
            model.pretrained_cfg = {**model.pretrained_cfg, **pretrained_cfg_overlay}
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
