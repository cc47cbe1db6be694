"""The CIFAR ResNets and plain nets of He et al. (2015) and the report's bottleneck nets.

One implementation, :class:`CifarResNet`, covers every net in the zoo:

* the paper's nets (He et al. 2015, section 4.2): a 3x3 stem with 16 channels, three
  stages of ``n`` *basic* blocks (two 3x3 convs) at 16, 32 and 64 channels, global
  average pooling and a linear classifier; depth 6n+2. Their shortcuts are **option A**:
  identity, and at a stage change stride-2 subsampling plus zero-padded channels, so
  the residual and plain nets have exactly the same parameters.
* the report's deep nets (bearpaw/pytorch-classification): the same skeleton with
  *bottleneck* blocks (1x1, 3x3, 1x1 with x4 expansion), depth 9n+2, and a 1x1
  projection (**option B**) where the shape changes.

``shortcut=None`` removes every shortcut: the "plain" nets of the paper's Figure 6.
"""


import logging
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ._registry import model_info, register_model
from ._timm import TIMM_PREFIX
from .data import dataset_for
from .weights import Weights, arch_of, get_weights, load_checked, load_state_dict

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "CifarResNet",
    "ZeroPadShortcut",
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

_logger = logging.getLogger("cifarnets")

Shortcut = Literal["A", "B"] | None
BlockKind = Literal["basic", "bottleneck"]

STAGE_WIDTHS = (16, 32, 64)


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: subsample by ``stride`` and append zero channels.

    A module rather than a lambda so that nets pickle, export and script
    (akamaster/pytorch_resnet_cifar10 issue #11).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(
                f"option A can only add channels, got {in_channels} -> {out_channels}"
            )
        self.extra_channels = out_channels - in_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            # F.pad pads the last dims first: (W, W, H, H, C_before, C_after).
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))
        return x

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


def _make_shortcut(
    kind: Shortcut, in_channels: int, out_channels: int, stride: int
) -> nn.Module | None:
    """The shortcut branch of a block, or None for a plain block."""
    if kind is None:
        return None
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if kind == "A":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers; ReLU after the addition (He et al. 2015, Fig. 2)."""

    expansion = 1

    def __init__(
        self, in_channels: int, width: int, stride: int = 1, shortcut: Shortcut = "A"
    ) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _make_shortcut(shortcut, in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4); the block of the report's deep nets."""

    expansion = 4

    def __init__(
        self, in_channels: int, width: int, stride: int = 1, shortcut: Shortcut = "B"
    ) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        # Stride on the 3x3 conv, as in bearpaw/pytorch-classification.
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _make_shortcut(shortcut, in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu(out)


_BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
}


class CifarResNet(nn.Module):
    """A CIFAR ResNet (or, with ``shortcut=None``, its plain counterpart).

    Args:
        block: ``"basic"`` (depth 6n+2) or ``"bottleneck"`` (depth 9n+2).
        blocks_per_stage: ``n``, the number of blocks in each of the three stages.
        shortcut: ``"A"`` (identity, zero-padding at shape changes), ``"B"`` (1x1
            projection at shape changes) or ``None`` (no shortcuts: a plain net).
        num_classes: size of the classifier output (10 for CIFAR-10, 100 for CIFAR-100;
            0: no classifier, the net returns its pooled features).
        global_pool: ``"avg"`` (the paper's), ``"max"``, or ``""`` for none (with
            ``num_classes=0`` the net then returns the unpooled last feature map).

    It follows timm's model contract (``forward_features`` returns the unpooled map,
    ``forward_head`` pools and classifies, ``reset_classifier``, ``feature_info``,
    ``forward_intermediates``, ``pretrained_cfg``), so timm's tools work on it as on
    timm's own nets.
    """

    # Computed from the net and its weights; TorchScript must not compile them.
    __jit_unused_properties__ = ["pretrained_cfg", "default_cfg"]

    def __init__(
        self,
        block: BlockKind,
        blocks_per_stage: int,
        *,
        shortcut: Shortcut,
        num_classes: int = 10,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        if block not in _BLOCKS:
            raise ValueError(f"block must be 'basic' or 'bottleneck', got {block!r}")
        if shortcut not in ("A", "B", None):
            raise ValueError(
                f"shortcut must be 'A' (zero-padding identity), 'B' (1x1 projection) "
                f"or None (plain net), got {shortcut!r}"
            )
        if not isinstance(blocks_per_stage, int) or blocks_per_stage < 1:
            raise ValueError(f"blocks_per_stage must be a positive int, got {blocks_per_stage!r}")
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 0:
            raise ValueError(
                f"num_classes must be an int >= 0 (10 for CIFAR-10, 100 for CIFAR-100, 0 for "
                f"no classifier: the pooled features), got {num_classes!r}"
            )
        check_pool(global_pool, num_classes)
        block_cls = _BLOCKS[block]
        self.block = block
        self.blocks_per_stage = blocks_per_stage
        self.shortcut = shortcut
        self.num_classes = num_classes

        self.conv1 = nn.Conv2d(3, STAGE_WIDTHS[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(STAGE_WIDTHS[0])
        self.relu = nn.ReLU(inplace=True)
        in_channels = STAGE_WIDTHS[0]
        stages = []
        for stage_index, width in enumerate(STAGE_WIDTHS):
            blocks = []
            for block_index in range(blocks_per_stage):
                stride = 2 if stage_index > 0 and block_index == 0 else 1
                blocks.append(block_cls(in_channels, width, stride, shortcut))
                in_channels = width * block_cls.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.num_features = self.head_hidden_size = in_channels
        self.global_pool = global_pool
        self.fc = nn.Linear(in_channels, num_classes) if num_classes else nn.Identity()
        self.grad_checkpointing = False
        # Where each level's output comes from (timm's feature_info: stem, then stages).
        self.feature_info = [dict(num_chs=STAGE_WIDTHS[0], reduction=1, module="relu")] + [
            dict(num_chs=w * block_cls.expansion, reduction=2**i, module=f"layer{i + 1}")
            for i, w in enumerate(STAGE_WIDTHS)
        ]
        self._pretrained_cfg: dict | None = None
        self.reset_parameters()

    @property
    def depth(self) -> int:
        """Weighted layers: the stem, every conv of the blocks, and the classifier."""
        convs_per_block = 2 if self.block == "basic" else 3
        return 3 * self.blocks_per_stage * convs_per_block + 2

    def reset_parameters(self) -> None:
        """Kaiming-normal (fan-in, ReLU gain) for every conv and linear weight.

        As in the report (``nn.init.kaiming_normal(m.weight)``); the linear bias keeps
        PyTorch's default init, BatchNorm starts at weight 1, bias 0.
        """
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    # -- forward, split as timm splits it --------------------------------------------------

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map, unpooled: (N, num_features, H/4, W/4)."""
        x = self.relu(self.bn1(self.conv1(x)))
        if self.grad_checkpointing and self.training and not torch.jit.is_scripting():
            return self._checkpointed_stages(x)
        return self.layer3(self.layer2(self.layer1(x)))

    @torch.jit.unused
    def _checkpointed_stages(self, x: torch.Tensor) -> torch.Tensor:
        for stage in (self.layer1, self.layer2, self.layer3):
            x = checkpoint(stage, x, use_reentrant=False)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool the feature map and classify it; ``pre_logits``: stop before ``fc``."""
        if self.global_pool == "avg":
            x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        elif self.global_pool == "max":
            x = F.adaptive_max_pool2d(x, 1).flatten(1)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        # Other tensors than the described weights (timm's checkpoint_path=, a user's
        # file): drop the description; cifarnets' own loaders set it again afterwards.
        self.__dict__.pop("pretrained_weights", None)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # -- the rest of timm's contract --------------------------------------------------------

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new, randomly initialised ``fc`` with ``num_classes`` outputs (0: none)."""
        check_pool(self.global_pool if global_pool is None else global_pool, num_classes)
        if global_pool is not None:
            self.global_pool = global_pool
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        if num_classes:
            nn.init.kaiming_normal_(self.fc.weight)

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each stage's activations in the backward pass (less memory)."""
        self.grad_checkpointing = enable

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """The outputs of the stem and the three stages (``feature_info``'s levels).

        ``indices``: which levels (a list, negatives from the end) or the last n (an int);
        default all. Returns ``(final features, intermediates)``, or only the
        intermediates with ``intermediates_only``, as timm's nets do.
        """
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt must be 'NCHW', got {output_fmt!r}")
        take = _take_indices(len(self.feature_info), indices)
        intermediates = []
        x = self.relu(self.bn1(self.conv1(x)))
        if 0 in take:
            intermediates.append(x)
        stages = (self.layer1, self.layer2, self.layer3)
        last = max(take) if stop_early else len(stages)
        for i, stage in enumerate(stages[:last], start=1):
            x = stage(x)
            if i in take:
                intermediates.append(x)
        if intermediates_only:
            return intermediates
        return x, intermediates

    def prune_intermediate_layers(self, indices: int | list[int] = 1, prune_norm: bool = False,
                                  prune_head: bool = True) -> list[int]:
        """Drop the stages after the last level in ``indices`` (and the head)."""
        take = _take_indices(len(self.feature_info), indices)
        for i in range(max(take) + 1, len(self.feature_info)):
            setattr(self, f"layer{i}", nn.Identity())
        if prune_head:
            self.reset_classifier(0, "")
        return take

    @property
    def pretrained_cfg(self) -> dict:
        """timm's description of the net's input and weights (``resolve_data_config``
        reads it): the loaded weights' normalisation, or the data set's."""
        if self._pretrained_cfg is not None:
            return self._pretrained_cfg
        return pretrained_cfg_for(arch_of(self), getattr(self, "pretrained_weights", None),
                                  self.num_classes)

    @pretrained_cfg.setter
    def pretrained_cfg(self, cfg: dict | None) -> None:
        self._pretrained_cfg = cfg

    @property
    def default_cfg(self) -> dict:  # timm's older name for pretrained_cfg
        return self.pretrained_cfg


_POOLS = ("avg", "max", "")


def check_pool(global_pool: str, num_classes: int) -> None:
    """``global_pool`` is one of ``_POOLS``; no pooling only without a classifier (the
    8x8 map cannot feed ``fc``), as timm's nets require."""
    if global_pool not in _POOLS:
        raise ValueError(f"global_pool must be one of {list(_POOLS)}, got {global_pool!r}")
    if global_pool == "" and num_classes:
        raise ValueError("global_pool='' (no pooling) needs num_classes=0: the unpooled "
                         "8x8 feature map cannot feed a classifier")


def pretrained_cfg_for(arch: str | None, weights: Weights | None,
                       num_classes: int | None = None) -> dict:
    """timm's pretrained config of a net with ``weights`` (or none): input, pooling,
    layer names, and the normalisation the weights were trained with."""
    from .data import DATASETS

    if num_classes is None:
        num_classes = weights.num_classes if weights else 10
    dataset = DATASETS[weights.dataset if weights else
                       dataset_for(num_classes)]
    return {
        "architecture": f"{TIMM_PREFIX}{arch}" if arch else None,
        "tag": weights.tag if weights else None,
        "num_classes": num_classes,
        "input_size": (3, 32, 32),
        "pool_size": (8, 8),
        "crop_pct": 1.0,
        "interpolation": "bilinear",
        "mean": tuple(weights.mean) if weights else dataset.mean,
        "std": tuple(weights.std) if weights else dataset.std,
        "first_conv": "conv1",
        "classifier": "fc",
        "license": weights.license if weights else None,
    }


def _take_indices(levels: int, indices: int | list[int] | None) -> list[int]:
    """timm's feature_take_indices: None -> all, n -> the last n, a list -> those."""
    if indices is None:
        return list(range(levels))
    if isinstance(indices, int):
        if not 0 < indices <= levels:
            raise ValueError(f"indices must be 1..{levels} levels, got {indices}")
        return list(range(levels - indices, levels))
    take = [i + levels if i < 0 else i for i in indices]
    if not all(0 <= i < levels for i in take):
        raise ValueError(f"indices must be in [-{levels}, {levels}), got {list(indices)}")
    return sorted(take)


# -- builders ---------------------------------------------------------------------------
# One function per net, named like its registry key. Keyword-only arguments:
#   pretrained=True    load the net's DEFAULT published weights (same as weights="DEFAULT")
#   weights=...        "DEFAULT", a tag ("cifar10_v1"), a full name, or a Weights entry
#   num_classes=...    classifier size; with weights of another size, every layer but the
#                      classifier is loaded and model.fc is new (fine-tuning, as in timm)
#   cache_dir=...      where huggingface_hub caches downloads (default: its own cache)
# A net built with weights is returned in eval mode with ``model.pretrained_weights`` set.


def _build(
    arch: str,
    shortcut: Shortcut,
    *,
    pretrained: bool,
    weights: str | Weights | None,
    num_classes: int | None,
    cache_dir: str | None = None,
) -> CifarResNet:
    info = model_info(arch)
    convs_per_block = 2 if info.block == "basic" else 3
    block, blocks_per_stage = info.block, (info.depth - 2) // (3 * convs_per_block)
    if weights is None and not pretrained:
        return CifarResNet(block, blocks_per_stage, shortcut=shortcut,
                           num_classes=10 if num_classes is None else num_classes)
    if shortcut != info.shortcut:  # a contradiction: no weights exist for that net
        raise ValueError(
            f"{arch} weights were trained with {info.shortcut and 'option ' + info.shortcut} "
            f"shortcuts; shortcut={shortcut!r} has no published weights (use pretrained=False)"
        )
    # DEFAULT follows the data set the head is for (CIFAR-100 weights when there are any).
    dataset = dataset_for(num_classes)
    chosen = get_weights("DEFAULT" if weights is None else weights, arch, dataset=dataset)
    state_dict = load_state_dict(chosen, cache_dir=cache_dir)
    if num_classes is None or num_classes == chosen.num_classes:
        model = CifarResNet(block, blocks_per_stage, shortcut=shortcut,
                            num_classes=chosen.num_classes)
        load_checked(model, state_dict, chosen.name)
    else:  # fine-tuning on other classes: everything but the classifier, as timm does
        model = CifarResNet(block, blocks_per_stage, shortcut=shortcut, num_classes=num_classes)
        load_checked(model, state_dict, chosen.name, skip=("fc.",))
        if num_classes:
            _logger.warning("cifarnets: loaded %s except its %d-class classifier; model.fc is "
                            "a new %d-class layer (random init), to be trained", chosen.name,
                            chosen.num_classes, num_classes)
    model.pretrained_weights = chosen
    return model


_PAPER = dict(family="paper", block="basic", shortcut="A")
_PAPER_PLAIN = dict(family="paper", block="basic", shortcut=None)
_REPORT = dict(family="report", block="bottleneck", shortcut="B")
_REPORT_PLAIN = dict(family="report", block="bottleneck", shortcut=None)


@register_model(**_PAPER, depth=20, num_params=269_722, macs=40_551_040, report_label="ResNet-20")
def resnet20(*, pretrained: bool = False, weights: str | Weights | None = None,
             num_classes: int | None = None, shortcut: Shortcut = "A",
             cache_dir: str | None = None) -> CifarResNet:
    """ResNet-20 (He et al. 2015): 3 basic blocks per stage, option A shortcuts."""
    return _build("resnet20", shortcut, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_PAPER, depth=32, num_params=464_154, macs=68_862_592)
def resnet32(*, pretrained: bool = False, weights: str | Weights | None = None,
             num_classes: int | None = None, shortcut: Shortcut = "A",
             cache_dir: str | None = None) -> CifarResNet:
    """ResNet-32 (He et al. 2015): 5 basic blocks per stage, option A shortcuts."""
    return _build("resnet32", shortcut, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_PAPER, depth=44, num_params=658_586, macs=97_174_144)
def resnet44(*, pretrained: bool = False, weights: str | Weights | None = None,
             num_classes: int | None = None, shortcut: Shortcut = "A",
             cache_dir: str | None = None) -> CifarResNet:
    """ResNet-44 (He et al. 2015): 7 basic blocks per stage, option A shortcuts."""
    return _build("resnet44", shortcut, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_PAPER, depth=56, num_params=853_018, macs=125_485_696)
def resnet56(*, pretrained: bool = False, weights: str | Weights | None = None,
             num_classes: int | None = None, shortcut: Shortcut = "A",
             cache_dir: str | None = None) -> CifarResNet:
    """ResNet-56 (He et al. 2015): 9 basic blocks per stage, option A shortcuts."""
    return _build("resnet56", shortcut, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_PAPER, depth=110, num_params=1_727_962, macs=252_887_680)
def resnet110(*, pretrained: bool = False, weights: str | Weights | None = None,
              num_classes: int | None = None, shortcut: Shortcut = "A",
             cache_dir: str | None = None) -> CifarResNet:
    """ResNet-110 (He et al. 2015): 18 basic blocks per stage, option A shortcuts."""
    return _build("resnet110", shortcut, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_PAPER, depth=1202, num_params=19_421_274, macs=2_829_238_912)
def resnet1202(*, pretrained: bool = False, weights: str | Weights | None = None,
               num_classes: int | None = None, shortcut: Shortcut = "A",
             cache_dir: str | None = None) -> CifarResNet:
    """ResNet-1202 (He et al. 2015): 200 basic blocks per stage, option A shortcuts."""
    return _build("resnet1202", shortcut, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_PAPER_PLAIN, depth=20, num_params=269_722, macs=40_551_040,
                report_label="vanilla CNN 20")
def plain20(*, pretrained: bool = False, weights: str | Weights | None = None,
            num_classes: int | None = None,
             cache_dir: str | None = None) -> CifarResNet:
    """Plain-20 (He et al. 2015): ResNet-20 without shortcuts."""
    return _build("plain20", None, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_PAPER_PLAIN, depth=32, num_params=464_154, macs=68_862_592)
def plain32(*, pretrained: bool = False, weights: str | Weights | None = None,
            num_classes: int | None = None,
             cache_dir: str | None = None) -> CifarResNet:
    """Plain-32 (He et al. 2015): ResNet-32 without shortcuts."""
    return _build("plain32", None, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_PAPER_PLAIN, depth=44, num_params=658_586, macs=97_174_144)
def plain44(*, pretrained: bool = False, weights: str | Weights | None = None,
            num_classes: int | None = None,
             cache_dir: str | None = None) -> CifarResNet:
    """Plain-44 (He et al. 2015): ResNet-44 without shortcuts."""
    return _build("plain44", None, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_PAPER_PLAIN, depth=56, num_params=853_018, macs=125_485_696)
def plain56(*, pretrained: bool = False, weights: str | Weights | None = None,
            num_classes: int | None = None,
             cache_dir: str | None = None) -> CifarResNet:
    """Plain-56 (He et al. 2015): ResNet-56 without shortcuts."""
    return _build("plain56", None, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_PAPER_PLAIN, depth=110, num_params=1_727_962, macs=252_887_680)
def plain110(*, pretrained: bool = False, weights: str | Weights | None = None,
             num_classes: int | None = None,
             cache_dir: str | None = None) -> CifarResNet:
    """Plain-110 (He et al. 2015): ResNet-110 without shortcuts."""
    return _build("plain110", None, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_REPORT, depth=83, num_params=869_530, macs=127_322_624, report_label="ResNet-56")
def resnet83(*, pretrained: bool = False, weights: str | Weights | None = None,
             num_classes: int | None = None,
             cache_dir: str | None = None) -> CifarResNet:
    """ResNet-83, bottleneck: the seed report's "ResNet-56" (9 bottleneck blocks per stage)."""
    return _build("resnet83", "B", pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_REPORT, depth=164, num_params=1_704_154, macs=247_646_720,
                report_label="ResNet-110")
def resnet164(*, pretrained: bool = False, weights: str | Weights | None = None,
              num_classes: int | None = None,
             cache_dir: str | None = None) -> CifarResNet:
    """ResNet-164, bottleneck (He et al. 2016): the seed report's "ResNet-110"."""
    return _build("resnet164", "B", pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_REPORT_PLAIN, depth=83, num_params=826_650, macs=122_079_744,
                report_label="vanilla CNN 56")
def plain83(*, pretrained: bool = False, weights: str | Weights | None = None,
            num_classes: int | None = None,
             cache_dir: str | None = None) -> CifarResNet:
    """Plain-83, bottleneck: the seed report's "vanilla CNN 56" (ResNet-83 without shortcuts)."""
    return _build("plain83", None, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)


@register_model(**_REPORT_PLAIN, depth=164, num_params=1_661_274, macs=242_403_840,
                report_label="vanilla CNN 110")
def plain164(*, pretrained: bool = False, weights: str | Weights | None = None,
             num_classes: int | None = None,
             cache_dir: str | None = None) -> CifarResNet:
    """Plain-164, bottleneck: the seed report's "vanilla CNN 110" (ResNet-164 without shortcuts)."""
    return _build("plain164", None, pretrained=pretrained, weights=weights,
                  num_classes=num_classes, cache_dir=cache_dir)
