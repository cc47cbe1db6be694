"""Make every net creatable with ``timm.create_model("cifar_<name>")``.

timm only creates nets that are in its own registry, so importing cifarnets registers
one thin entrypoint per net. The ``cifar_`` prefix keeps patterns such as
``timm.list_models("resnet20*")`` from mixing these nets with timm's ImageNet ResNets
(resnet200), and vice versa. Weights still come through cifarnets (sha256-checked):

>>> import cifarnets, timm
>>> model = timm.create_model("cifar_resnet56", pretrained=True)          # DEFAULT weights
>>> model = timm.create_model("cifar_resnet56.cifar10_v1", pretrained=True)  # a tag
"""

from __future__ import annotations

from collections.abc import Callable

from timm.models import register_model
from torch import nn

from . import resnet  # noqa: F401  (registers the builders listed below)
from ._registry import get_model, list_models
from .data import DATASETS

TIMM_PREFIX = "cifar_"


def _make_entrypoint(name: str) -> Callable[..., nn.Module]:
    def entrypoint(
        pretrained: bool = False,
        pretrained_cfg: str | None = None,
        pretrained_cfg_overlay: dict | None = None,
        cache_dir: str | None = None,
        **kwargs,
    ) -> nn.Module:
        if pretrained_cfg_overlay or cache_dir:
            raise ValueError(
                "cifarnets nets take neither pretrained_cfg_overlay nor cache_dir; weights "
                "are cached by huggingface_hub (set HF_HUB_CACHE to move the cache)"
            )
        tag = pretrained_cfg if isinstance(pretrained_cfg, str) and pretrained_cfg else None
        weights = (tag or "DEFAULT") if pretrained else None
        model = get_model(name, weights=weights, **kwargs)
        loaded = getattr(model, "pretrained_weights", None)
        dataset = DATASETS["cifar100" if model.num_classes == 100 else "cifar10"]
        # What timm.data.resolve_data_config reads to build matching transforms.
        model.pretrained_cfg = {
            "architecture": TIMM_PREFIX + name,
            "tag": loaded.tag if loaded else tag,
            "num_classes": model.num_classes,
            "input_size": (3, 32, 32),
            "crop_pct": 1.0,
            "interpolation": "bilinear",
            "mean": loaded.mean if loaded else dataset.mean,
            "std": loaded.std if loaded else dataset.std,
        }
        return model

    entrypoint.__name__ = entrypoint.__qualname__ = TIMM_PREFIX + name
    entrypoint.__module__ = __name__
    entrypoint.__doc__ = f"cifarnets.{name} for timm.create_model (see cifarnets.{name})."
    return entrypoint


for _name in list_models():
    register_model(_make_entrypoint(_name))
