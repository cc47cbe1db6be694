"""torch.hub entry points: every cifarnets net, with the same keyword arguments, and
torchvision's weight look-ups.

    torch.hub.load("path/to/cifarnets", "resnet56", source="local", pretrained=True)
"""

# What `import cifarnets` and pretrained=True need (tests/test_import.py checks the
# first); timm is optional: the nets are registered with it only when it is imported.
dependencies = ["torch", "safetensors", "huggingface_hub"]

from cifarnets.models import BUILDERS as _BUILDERS  # noqa: E402

globals().update(_BUILDERS)  # one entry point per registered net, named like it
from cifarnets.weights import get_model_weights, get_weight, get_weights  # noqa: E402, F401
