"""The model registry, as data: every net's static facts, readable without torch.

Each :class:`ModelInfo` describes one net completely (family, block, depth, shortcut,
exact size, the lab report's row); ``cifarnets.models`` makes one builder per entry,
named like it, so ``cifarnets.resnet56`` and ``cifarnets.get_model("resnet56")`` are
the same thing, as in torchvision and timm. Listing and describing the zoo (``cifarnets
list``, ``info``) reads only this table and the weights manifest: no torch import.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from dataclasses import dataclass

from .errors import UnknownModelError

__all__ = [
    "MODELS",
    "TIMM_PREFIX",
    "ModelInfo",
    "UnknownModelError",
    "arch_for",
    "list_models",
    "model_info",
]

# timm's names of the nets: cifar_resnet20. The prefix keeps timm.list_models("resnet20*")
# from mixing them with timm's ImageNet ResNets (resnet200), and vice versa.
TIMM_PREFIX = "cifar_"


@dataclass(frozen=True)
class ModelInfo:
    """Static facts about an architecture (CIFAR-10 head, 32x32 input).

    ``num_params`` and ``macs`` are stored rather than computed so that listing the
    zoo needs no torch; ``tests/test_models.py`` checks both against the built nets.
    """

    name: str
    family: str  # "paper": He et al. 2015; "report": the lab report's bottleneck nets
    block: str  # "basic" or "bottleneck"
    depth: int
    shortcut: str | None  # "A", "B" or None (plain)
    num_params: int
    macs: int  # multiply-accumulates per 32x32 image, conv and linear layers
    report_label: str | None  # the row of the lab report's Table 1 this net reproduces
    summary: str  # one line: what the net is (the builder's docstring starts with it)

    @property
    def num_features(self) -> int:
        """Width of the pooled features that feed the classifier (64, x4 if bottleneck)."""
        return 64 * (4 if self.block == "bottleneck" else 1)

    @property
    def blocks_per_stage(self) -> int:
        """``n``: depth 6n+2 for basic blocks (two convs), 9n+2 for bottlenecks (three)."""
        convs_per_block = 2 if self.block == "basic" else 3
        return (self.depth - 2) // (3 * convs_per_block)


# One entry per net, in the order `cifarnets list` shows them. Adding a net: an entry
# here and one builder line in cifarnets/models.py; the tests, parametrised over this
# table, then cover it (README: "Adding a net").
MODELS: tuple[ModelInfo, ...] = (
    # He et al. 2015, section 4.2: basic blocks, depth 6n+2, option A shortcuts.
    ModelInfo(
        "resnet20",
        "paper",
        "basic",
        20,
        "A",
        269_722,
        40_551_040,
        "ResNet-20",
        "ResNet-20 (He et al. 2015): 3 basic blocks per stage, option A shortcuts.",
    ),
    ModelInfo(
        "resnet32",
        "paper",
        "basic",
        32,
        "A",
        464_154,
        68_862_592,
        None,
        "ResNet-32 (He et al. 2015): 5 basic blocks per stage, option A shortcuts.",
    ),
    ModelInfo(
        "resnet44",
        "paper",
        "basic",
        44,
        "A",
        658_586,
        97_174_144,
        None,
        "ResNet-44 (He et al. 2015): 7 basic blocks per stage, option A shortcuts.",
    ),
    ModelInfo(
        "resnet56",
        "paper",
        "basic",
        56,
        "A",
        853_018,
        125_485_696,
        None,
        "ResNet-56 (He et al. 2015): 9 basic blocks per stage, option A shortcuts.",
    ),
    ModelInfo(
        "resnet110",
        "paper",
        "basic",
        110,
        "A",
        1_727_962,
        252_887_680,
        None,
        "ResNet-110 (He et al. 2015): 18 basic blocks per stage, option A shortcuts.",
    ),
    ModelInfo(
        "resnet1202",
        "paper",
        "basic",
        1202,
        "A",
        19_421_274,
        2_829_238_912,
        None,
        "ResNet-1202 (He et al. 2015): 200 basic blocks per stage, option A shortcuts.",
    ),
    # Their plain twins (the paper's Fig. 6): the same layers without shortcuts.
    ModelInfo(
        "plain20",
        "paper",
        "basic",
        20,
        None,
        269_722,
        40_551_040,
        "vanilla CNN 20",
        "Plain-20 (He et al. 2015): ResNet-20 without shortcuts.",
    ),
    ModelInfo(
        "plain32",
        "paper",
        "basic",
        32,
        None,
        464_154,
        68_862_592,
        None,
        "Plain-32 (He et al. 2015): ResNet-32 without shortcuts.",
    ),
    ModelInfo(
        "plain44",
        "paper",
        "basic",
        44,
        None,
        658_586,
        97_174_144,
        None,
        "Plain-44 (He et al. 2015): ResNet-44 without shortcuts.",
    ),
    ModelInfo(
        "plain56",
        "paper",
        "basic",
        56,
        None,
        853_018,
        125_485_696,
        None,
        "Plain-56 (He et al. 2015): ResNet-56 without shortcuts.",
    ),
    ModelInfo(
        "plain110",
        "paper",
        "basic",
        110,
        None,
        1_727_962,
        252_887_680,
        None,
        "Plain-110 (He et al. 2015): ResNet-110 without shortcuts.",
    ),
    # The lab report's deep nets: bottleneck blocks, depth 9n+2, option B shortcuts
    # (bearpaw/pytorch-classification), and their plain twins.
    ModelInfo(
        "resnet83",
        "report",
        "bottleneck",
        83,
        "B",
        869_530,
        127_322_624,
        "ResNet-56",
        'ResNet-83, bottleneck: the lab report\'s "ResNet-56" (9 bottleneck blocks per stage).',
    ),
    ModelInfo(
        "resnet164",
        "report",
        "bottleneck",
        164,
        "B",
        1_704_154,
        247_646_720,
        "ResNet-110",
        'ResNet-164, bottleneck (He et al. 2016): the lab report\'s "ResNet-110".',
    ),
    ModelInfo(
        "plain83",
        "report",
        "bottleneck",
        83,
        None,
        826_650,
        122_079_744,
        "vanilla CNN 56",
        'Plain-83, bottleneck: the lab report\'s "vanilla CNN 56" (ResNet-83 without shortcuts).',
    ),
    ModelInfo(
        "plain164",
        "report",
        "bottleneck",
        164,
        None,
        1_661_274,
        242_403_840,
        "vanilla CNN 110",
        "Plain-164, bottleneck: the lab report's \"vanilla CNN "
        '110" (ResNet-164 without shortcuts).',
    ),
)

_INFO: dict[str, ModelInfo] = {info.name: info for info in MODELS}
if len(_INFO) != len(MODELS):
    raise RuntimeError("a model name is registered twice in cifarnets._registry.MODELS")


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names in registry order, optionally filtered by a glob.

    >>> list_models("plain*")
    ['plain20', 'plain32', 'plain44', 'plain56', 'plain110', 'plain83', 'plain164']
    """
    names = list(_INFO)
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    return names


def _closest(name: str) -> str | None:
    """The registered name most like ``name`` (case-insensitive); ties go to the longer
    common prefix, so that 'resnet21' suggests 'resnet20', not 'resnet32'."""
    query = name.lower()
    candidates = difflib.get_close_matches(query, list(_INFO), n=5, cutoff=0.5)
    return max(
        candidates,
        key=lambda c: (
            difflib.SequenceMatcher(None, query, c).ratio(),
            len(os.path.commonprefix([query, c])),
        ),
        default=None,
    )


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered model; an unknown name is an
    :class:`UnknownModelError` that suggests the closest one and lists them all."""
    if not isinstance(name, str) or name not in _INFO:
        closest = _closest(str(name))
        hint = f" Did you mean {closest!r}?" if closest else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} Valid names: {', '.join(list_models())}."
        )
    return _INFO[name]


def arch_for(block: str | None, depth: int | None, shortcut: str | None) -> str | None:
    """The registered name of the net with this block, depth and shortcut, if any."""
    for info in MODELS:
        if (info.block, info.depth, info.shortcut) == (block, depth, shortcut):
            return info.name
    return None
