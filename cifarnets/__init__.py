"""cifarnets: the CIFAR ResNets and plain nets of He et al. (2015), and the report's deep nets.

>>> import cifarnets
>>> model = cifarnets.resnet56()                        # random init, CIFAR-10 head
>>> model = cifarnets.get_model("plain20", num_classes=100)
>>> cifarnets.list_models("resnet*")
['resnet20', 'resnet32', 'resnet44', 'resnet56', 'resnet110', 'resnet1202', 'resnet83', 'resnet164']
"""

from . import _timm  # noqa: F401  (registers cifar_<name> with timm.create_model)
from ._registry import ModelInfo, UnknownModelError, get_model, list_models, model_info
from .data import DATASETS, DataError, load_split, load_test_sample
from .resnet import (
    CifarResNet,
    plain20,
    plain32,
    plain44,
    plain56,
    plain83,
    plain110,
    plain164,
    resnet20,
    resnet32,
    resnet44,
    resnet56,
    resnet83,
    resnet110,
    resnet164,
    resnet1202,
)
from .weights import (
    UnknownWeightsError,
    Weights,
    WeightsError,
    WeightsIntegrityError,
    WeightsUnavailableError,
    get_weights,
    list_weights,
    load_weights_file,
)

__version__ = "0.1.0"

__all__ = [
    "DATASETS",
    "CifarResNet",
    "DataError",
    "ModelInfo",
    "UnknownModelError",
    "UnknownWeightsError",
    "Weights",
    "WeightsError",
    "WeightsIntegrityError",
    "WeightsUnavailableError",
    "get_model",
    "get_weights",
    "list_models",
    "list_weights",
    "load_split",
    "load_test_sample",
    "load_weights_file",
    "model_info",
    "plain20",
    "plain32",
    "plain44",
    "plain56",
    "plain83",
    "plain110",
    "plain164",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet83",
    "resnet110",
    "resnet164",
    "resnet1202",
]
