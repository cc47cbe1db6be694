"""cifarnets: the CIFAR ResNets and plain nets of He et al. (2015), and the lab report's deep nets.

>>> import cifarnets
>>> model = cifarnets.resnet56()                        # random init, CIFAR-10 head
>>> model = cifarnets.get_model("plain20", num_classes=100)
>>> cifarnets.list_models("resnet*")
['resnet20', 'resnet32', 'resnet44', 'resnet56', 'resnet110', 'resnet1202', 'resnet83', 'resnet164']

``import cifarnets`` does not import torch: the registry, the weights' metadata and the
errors are plain data, and what needs torch (the nets, their builders, loading, data)
loads on first use, so that ``cifarnets list`` and ``info`` answer at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from . import _timm_hook
from ._registry import ModelInfo, model_info
from ._version import __version__
from .datasets import DATASETS
from .errors import (
    CifarnetsError,
    ConversionError,
    DataDownloadError,
    DataError,
    DeviceUnavailableError,
    ExecutorError,
    HubError,
    HubRefusedError,
    HubUnreachableError,
    PublishError,
    PublishUnreachableError,
    RunFolderError,
    UnknownModelError,
    UnknownWeightsError,
    WeightsError,
    WeightsIntegrityError,
    WeightsUnavailableError,
    WeightsUnreachableError,
)
from .weights import (
    Weights,
    WeightsEnum,
    WeightsTransforms,
    default_weights,
    get_model_weights,
    get_weight,
    get_weights,
    list_models,
    list_weights,
)

if TYPE_CHECKING:  # what __getattr__ below provides, for type checkers and IDEs
    from . import (  # noqa: F401
        cli,
        convert,
        evaluate,
        publish,
        reference,
        report,
        reproduce,
        training,
    )
    from .data import load_split, load_test_sample
    from .loading import load_weights_file
    from .models import *  # noqa: F403
    from .models import get_model
    from .nets import BasicBlock, Bottleneck, CifarResNet, ZeroPadShortcut

# timm.create_model("cifar_<name>"): registered now if timm is imported, else as soon as
# it is (importing timm here would cost seconds).
_timm_hook.register_when_timm_is_imported()

# Names that need torch, and the module that defines each: loaded on first use.
_LAZY: dict[str, str] = {
    **dict.fromkeys(["BasicBlock", "Bottleneck", "CifarResNet", "ZeroPadShortcut"], "nets"),
    "get_model": "models",
    **dict.fromkeys(list_models(), "models"),  # the builders: cifarnets.resnet56, ...
    "load_weights_file": "loading",
    "load_split": "data",
    "load_test_sample": "data",
}
_LAZY_SUBMODULES = (
    "cli",
    "convert",
    "data",
    "evaluate",
    "hub",
    "loading",
    "models",
    "nets",
    "publish",
    "reference",
    "report",
    "reproduce",
    "resnet",
    "training",
)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # found directly from now on
        return value
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_LAZY_SUBMODULES})


__all__ = [
    "DATASETS",
    "BasicBlock",
    "Bottleneck",
    "CifarResNet",
    "CifarnetsError",
    "ConversionError",
    "DataDownloadError",
    "DataError",
    "DeviceUnavailableError",
    "ExecutorError",
    "HubError",
    "HubRefusedError",
    "HubUnreachableError",
    "ModelInfo",
    "PublishError",
    "PublishUnreachableError",
    "RunFolderError",
    "UnknownModelError",
    "UnknownWeightsError",
    "Weights",
    "WeightsEnum",
    "WeightsError",
    "WeightsIntegrityError",
    "WeightsTransforms",
    "WeightsUnavailableError",
    "WeightsUnreachableError",
    "ZeroPadShortcut",
    "__version__",
    "default_weights",
    "get_model",
    "get_model_weights",
    "get_weight",
    "get_weights",
    "list_models",
    "list_weights",
    "load_split",
    "load_test_sample",
    "load_weights_file",
    "model_info",
    *list_models(),
]
