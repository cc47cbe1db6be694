"""torch.hub entry points: every cifarnets net, with the same keyword arguments.

    torch.hub.load("path/to/cifarnets", "resnet56", source="local", pretrained=True)
"""

# What `import cifarnets` and pretrained=True need (tests/test_import.py checks the
# first); timm is optional: the nets are registered with it only when it is imported.
dependencies = ["torch", "safetensors", "huggingface_hub"]

from cifarnets.resnet import (  # noqa: E402, F401
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
