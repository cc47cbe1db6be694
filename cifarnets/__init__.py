"""cifarnets: the CIFAR ResNets and plain nets of He et al. (2015), and the report's deep nets.

>>> import cifarnets
>>> model = cifarnets.resnet56()                        # random init, CIFAR-10 head
>>> model = cifarnets.get_model("plain20", num_classes=100)
>>> cifarnets.list_models("resnet*")
['resnet20', 'resnet32', 'resnet44', 'resnet56', 'resnet110', 'resnet1202', 'resnet83', 'resnet164']
"""

from . import _timm
from ._registry import ModelInfo, UnknownModelError, get_model, list_models, model_info
from ._version import __version__
from .data import DATASETS, DataError, load_split, load_test_sample
from .resnet import *  # noqa: F403  (CifarResNet and one builder per net)
from .resnet import __all__ as _resnet_all
from .weights import (
    UnknownWeightsError,
    Weights,
    WeightsError,
    WeightsIntegrityError,
    WeightsTransforms,
    WeightsUnavailableError,
    default_weights,
    get_model_weights,
    get_weights,
    list_weights,
    load_weights_file,
)

# timm.create_model("cifar_<name>"): registered now if timm is imported, else as soon as
# it is (importing timm here would double the cost of `import cifarnets`).
_timm.register_when_timm_is_imported()

# Submodules with heavier imports load on first use: `cifarnets.convert.convert_akamaster`
# works after a plain `import cifarnets`, which stays cheap.
_LAZY_SUBMODULES = ("cli", "convert", "evaluate", "publish", "reference", "report",
                    "reproduce", "training")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DATASETS",
    "DataError",
    "ModelInfo",
    "UnknownModelError",
    "UnknownWeightsError",
    "Weights",
    "WeightsError",
    "WeightsIntegrityError",
    "WeightsTransforms",
    "WeightsUnavailableError",
    "__version__",
    "default_weights",
    "get_model_weights",
    "get_model",
    "get_weights",
    "list_models",
    "list_weights",
    "load_split",
    "load_test_sample",
    "load_weights_file",
    "model_info",
    *_resnet_all,
]
