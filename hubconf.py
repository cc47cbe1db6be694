"""torch.hub entry points: every cifarnets net, with the same keyword arguments, and
torchvision's weight look-ups.

    torch.hub.load("path/to/cifarnets", "resnet56", source="local", pretrained=True)
"""

# What `import cifarnets` and pretrained=True need (tests/test_import.py checks the
# first); timm is optional: the nets are registered with it only when it is imported.
dependencies = ["torch", "safetensors", "huggingface_hub"]

from cifarnets.models import *  # noqa: E402, F403  (one builder per registered net)
from cifarnets.weights import get_model_weights, get_weight, get_weights  # noqa: E402, F401
