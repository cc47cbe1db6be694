"""The nets and their builders under their first import path (``cifarnets.resnet``).

The code lives in ``cifarnets.nets`` (the modules, torch only) and ``cifarnets.models``
(one builder per registered net); this module keeps ``from cifarnets.resnet import
CifarResNet, resnet56`` working.
"""

from .models import *  # noqa: F403
from .models import __all__ as _models_all
from .nets import BasicBlock, Bottleneck, CifarResNet, ZeroPadShortcut

__all__ = ["BasicBlock", "Bottleneck", "CifarResNet", "ZeroPadShortcut", *_models_all]
