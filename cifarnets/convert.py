"""Convert checkpoints of other CIFAR ResNet projects into cifarnets state dicts.

akamaster/pytorch_resnet_cifar10 trains the paper's option-A ResNets with the same
layers and names as cifarnets, but its shortcut pads the new channels of a stage on
*both* sides (``F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))``),
so the identity lands in the middle channels, where cifarnets (like the original Torch
code) appends them. The two nets compute the same function up to a permutation of the
residual stream's channels in stages 2 and 3; :func:`convert_akamaster` applies it to
every tensor that writes the stream (each block's ``conv2``/``bn2``) and every tensor
that reads it (each block's ``conv1`` input, the classifier's input).

>>> state = convert_akamaster(load_akamaster_checkpoint("resnet56-4bfd9763.th"), "resnet56")
>>> cifarnets.resnet56().load_state_dict(state)
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ._registry import model_info
from .datasets import dataset_for
from .errors import ConversionError
from .nets import STAGE_WIDTHS

__all__ = ["AKAMASTER_MEAN", "AKAMASTER_STD", "ConversionError", "convert_akamaster",
           "convert_akamaster_file", "load_akamaster_checkpoint", "stream_permutations"]

# akamaster trained with ImageNet's normalisation (its trainer.py), not CIFAR-10's:
# the converted weights only give its errors with these constants.
AKAMASTER_MEAN = (0.485, 0.456, 0.406)
AKAMASTER_STD = (0.229, 0.224, 0.225)


def load_akamaster_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of an akamaster checkpoint (``{"state_dict": ..., ...}`` or bare).

    Read with ``weights_only=True``: a checkpoint is data, never code to unpickle.
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and weights_only errors all mean "not one"
        raise ConversionError(
            f"{path} is not a PyTorch checkpoint that loads with weights_only=True "
            f"({type(e).__name__}); expected a file saved by akamaster/"
            f"pytorch_resnet_cifar10's trainer.py"
        ) from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not state or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ConversionError(
            f"{path} holds no state dict (expected a dict of tensors, or "
            f"{{'state_dict': ...}} as akamaster's trainer.py saves)"
        )
    return state


def stream_permutations(blocks_per_stage_widths: tuple[int, ...] = STAGE_WIDTHS,
                        ) -> list[torch.Tensor]:
    """For each stage, ``perm`` with cifarnets' stream channel k = akamaster's ``perm[k]``.

    Stage 1 is the identity. Entering a stage of P channels from P/2, akamaster puts the
    identity at channels [P/4, 3P/4) and zeros around it; cifarnets puts it at [0, P/2)
    and zeros after it. The zero channels are matched in order.
    """
    perms = [torch.arange(blocks_per_stage_widths[0])]
    for width in blocks_per_stage_widths[1:]:
        prev = perms[-1]
        if width != 2 * len(prev):
            raise ConversionError(f"option A doubles the width per stage, got {len(prev)} -> "
                                  f"{width}")
        quarter = width // 4
        padded = torch.cat([torch.arange(quarter), torch.arange(width - quarter, width)])
        perms.append(torch.cat([quarter + prev, padded]))
    return perms


_BLOCK_KEY = re.compile(r"layer(\d)\.(\d+)\.(conv[12]|bn[12])\.(\w+)$")


def convert_akamaster(state: dict[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """An akamaster ``state_dict`` (``module.`` prefix, ``linear`` head) for cifarnets' ``arch``.

    Raises :class:`ConversionError` when the checkpoint is not an option-A basic-block
    net of ``arch``'s depth.
    """
    info = model_info(arch)
    if info.family != "paper" or info.shortcut != "A":
        raise ConversionError(
            f"akamaster checkpoints are the paper's option-A ResNets (resnet20/32/44/56/110/"
            f"1202); {arch} is not one of them"
        )
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if any(".shortcut." in k for k in state):
        raise ConversionError(
            "the checkpoint has shortcut parameters (option B, 1x1 projections); cifarnets' "
            f"{arch} uses option A (zero padding) and cannot hold them"
        )
    if "linear.weight" not in state:
        raise ConversionError(
            "not an akamaster ResNet state dict: no 'linear.weight' (its classifier); found "
            f"keys like {sorted(state)[:3]}"
        )
    n = (info.depth - 2) // 6
    found = {int(m.group(2)) for k in state if (m := _BLOCK_KEY.search(k))}
    if found and max(found) + 1 != n:
        raise ConversionError(
            f"the checkpoint has {max(found) + 1} blocks per stage (ResNet-"
            f"{6 * (max(found) + 1) + 2}); {arch} has {n}: pick the matching net"
        )
    perms = stream_permutations()
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        value = value.detach().clone()
        match = _BLOCK_KEY.search(key)
        if key.startswith("linear."):
            if key == "linear.weight":
                value = value[:, perms[-1]]
            key = "fc." + key.removeprefix("linear.")
        elif match:
            stage, index, layer = int(match.group(1)) - 1, int(match.group(2)), match.group(3)
            if layer == "conv1":  # reads the stream: the previous stage's for a first block
                source = perms[stage - 1] if index == 0 and stage > 0 else perms[stage]
                value = value[:, source]
            elif layer in ("conv2", "bn2") and value.dim() > 0:  # writes the stream
                value = value[perms[stage]]
        out[key] = value.contiguous()
    # Checkpoints from before PyTorch 0.4.1 have no BatchNorm step counters; eval and
    # fine-tuning with a set momentum never read them, so they start at zero.
    for key in [k for k in out if k.endswith(".running_mean")]:
        out.setdefault(key.replace(".running_mean", ".num_batches_tracked"),
                       torch.tensor(0, dtype=torch.long))
    return out


def convert_akamaster_file(src: str | Path, arch: str,
                           ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(state dict, safetensors metadata) for an akamaster checkpoint file.

    The metadata records the net, the classes and the normalisation the checkpoint was
    trained with, so that :func:`cifarnets.load_weights_file` and ``cifarnets eval``
    evaluate it as it was trained.
    """
    import json

    state = convert_akamaster(load_akamaster_checkpoint(src), arch)
    num_classes = int(state["fc.weight"].shape[0])
    meta = {"format": "pt", "arch": arch, "num_classes": str(num_classes),
            "dataset": dataset_for(num_classes),
            "mean": json.dumps(AKAMASTER_MEAN), "std": json.dumps(AKAMASTER_STD),
            "converted_from": f"akamaster: {Path(src).name}"}
    return state, meta
