"""The nets: one CIFAR ResNet class, its blocks and shortcuts. Imports torch only.

One implementation, :class:`CifarResNet`, covers every net in the zoo:

* the paper's nets (He et al. 2015, section 4.2): a 3x3 stem with 16 channels, three
  stages of ``n`` *basic* blocks (two 3x3 convs) at 16, 32 and 64 channels, global
  average pooling and a linear classifier; depth 6n+2. Their shortcuts are **option A**:
  identity, and at a stage change stride-2 subsampling plus zero-padded channels, so
  the residual and plain nets have exactly the same parameters.
* the lab report's deep nets (bearpaw/pytorch-classification): the same skeleton with
  *bottleneck* blocks (1x1, 3x3, 1x1 with x4 expansion), depth 9n+2, and a 1x1
  projection (**option B**) where the shape changes.

``shortcut=None`` removes every shortcut: the "plain" nets of the paper's Figure 6.
The builders (``cifarnets.models``) make the registered nets from these parts and
describe their weights in ``pretrained_cfg``.
"""

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = [
    "STAGE_WIDTHS",
    "BasicBlock",
    "Bottleneck",
    "CifarResNet",
    "ZeroPadShortcut",
    "check_pool",
]

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
            raise ValueError(f"option A can only add channels, got {in_channels} -> {out_channels}")
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

    # timm's older name for pretrained_cfg; TorchScript must not compile it.
    __jit_unused_properties__ = ["default_cfg"]

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
        # timm's description of the input the net takes and of its weights. The net knows
        # its shape; the builders add the normalisation and the weights it was built with.
        self.pretrained_cfg: dict = {
            "num_classes": num_classes,
            "input_size": (3, 32, 32),
            "pool_size": (8, 8),
            "crop_pct": 1.0,
            "interpolation": "bilinear",
            "first_conv": "conv1",
            "classifier": "fc",
        }
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
        # Other tensors than the weights the builder described (timm's checkpoint_path=,
        # a user's file): that description no longer holds. cifarnets' own loaders
        # describe the net again after loading.
        self.__dict__.pop("pretrained_weights", None)
        self.pretrained_cfg = {
            k: v for k, v in self.pretrained_cfg.items() if k not in ("tag", "hf_hub_id", "license")
        }
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
        # The description follows the head; class names only while they still fit it.
        cfg = {**self.pretrained_cfg, "num_classes": num_classes}
        if len(cfg.get("label_names") or ()) != num_classes:
            cfg.pop("label_names", None)
        self.pretrained_cfg = cfg

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

    def prune_intermediate_layers(
        self, indices: int | list[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """Drop the stages after the last level in ``indices`` (and the head)."""
        take = _take_indices(len(self.feature_info), indices)
        for i in range(max(take) + 1, len(self.feature_info)):
            setattr(self, f"layer{i}", nn.Identity())
        if prune_head:
            self.reset_classifier(0, "")
        return take

    @property
    def default_cfg(self) -> dict:
        return self.pretrained_cfg


_POOLS = ("avg", "max", "")


def check_pool(global_pool: str, num_classes: int) -> None:
    """``global_pool`` is one of ``_POOLS``; no pooling only without a classifier (the
    8x8 map cannot feed ``fc``), as timm's nets require."""
    if global_pool not in _POOLS:
        raise ValueError(f"global_pool must be one of {list(_POOLS)}, got {global_pool!r}")
    if global_pool == "" and num_classes:
        raise ValueError(
            "global_pool='' (no pooling) needs num_classes=0: the unpooled "
            "8x8 feature map cannot feed a classifier"
        )


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
