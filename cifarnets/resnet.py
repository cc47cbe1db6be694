"""The nets and their builders under their first import path (``cifarnets.resnet``).

The code lives in ``cifarnets.nets`` (the modules, torch only) and ``cifarnets.models``
(one builder per registered net); this module keeps ``from cifarnets.resnet import
CifarResNet, resnet56`` working.
"""

from .models import *  # noqa: F403  (the builders)
from .models import BUILDERS
from .nets import BasicBlock, Bottleneck, CifarResNet, ZeroPadShortcut

# As before the split: the modules and one builder per net.
__all__ = ["BasicBlock", "Bottleneck", "CifarResNet", "ZeroPadShortcut", *BUILDERS]
