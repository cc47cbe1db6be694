"""Convert checkpoints of other CIFAR ResNet projects into cifarnets state dicts.

akamaster/pytorch_resnet_cifar10 trains the paper's option-A ResNets with the same
layers and names as cifarnets, but its shortcut pads the new channels of a stage on
*both* sides (``F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))``),
so the identity lands in the middle channels, where cifarnets (like the original Torch
code) appends them. The two nets compute the same function up to a permutation of the
residual stream's channels in stages 2 and 3; :func:`convert_akamaster` applies it to
every tensor that writes the stream (each block's ``conv2``/``bn2``) and every tensor
that reads it (each block's ``conv1`` input, the classifier's input).

Which net a checkpoint is comes from the file itself (:func:`infer_akamaster_arch`: the
blocks per stage give the depth, ``linear.weight`` the head); an ``arch`` passed in is
checked against it, not trusted instead of it.

>>> state = load_akamaster_checkpoint("resnet56-4bfd9763.th")
>>> infer_akamaster_arch(state)
'resnet56'
>>> cifarnets.resnet56().load_state_dict(convert_akamaster(state))
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ._registry import list_models, model_info
from .datasets import dataset_for
from .errors import ConversionError
from .nets import STAGE_WIDTHS

__all__ = [
    "AKAMASTER_MEAN",
    "AKAMASTER_STD",
    "ConversionError",
    "convert_akamaster",
    "convert_akamaster_file",
    "infer_akamaster_arch",
    "load_akamaster_checkpoint",
    "stream_permutations",
]

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
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        found = (
            f"a dict with keys {sorted(map(str, obj))[:6]}"
            if isinstance(obj, dict)
            else f"a {type(obj).__name__}"
        )
        raise ConversionError(
            f"{path} holds no state dict (expected a dict of tensors, or "
            f"{{'state_dict': ...}} as akamaster's trainer.py saves; found {found})"
        )
    return state


def stream_permutations(
    blocks_per_stage_widths: tuple[int, ...] = STAGE_WIDTHS,
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
            raise ConversionError(
                f"option A doubles the width per stage, got {len(prev)} -> {width}"
            )
        quarter = width // 4
        padded = torch.cat([torch.arange(quarter), torch.arange(width - quarter, width)])
        perms.append(torch.cat([quarter + prev, padded]))
    return perms


_BLOCK_KEY = re.compile(r"layer(\d)\.(\d+)\.(conv[12]|bn[12])\.(\w+)$")
# Any block parameter, of any kind (a bottleneck's conv3, a shortcut's projection).
_ANY_BLOCK_KEY = re.compile(r"^layer(\d+)\.(\d+)\.(\w+)")


def akamaster_nets() -> dict[int, str]:
    """Blocks per stage -> cifarnets' name, for the nets akamaster's code builds: the
    paper's option-A basic-block ResNets (resnet20/32/44/56/110/1202)."""
    nets = {}
    for name in list_models("resnet*"):
        info = model_info(name)
        if info.family == "paper" and info.shortcut == "A" and info.block == "basic":
            nets[(info.depth - 2) // 6] = name
    return dict(sorted(nets.items()))


def _could_be() -> str:
    return "akamaster's nets are the paper's option-A ResNets: " + ", ".join(
        f"{name} ({n} blocks per stage)" for n, name in akamaster_nets().items()
    )


def _blocks(state: dict[str, torch.Tensor]) -> tuple[dict[int, set[int]], set[str]]:
    """({stage: its block indices}, the block layers' names) of a state dict."""
    stages: dict[int, set[int]] = {}
    layers: set[str] = set()
    for key in state:
        if match := _ANY_BLOCK_KEY.match(key):
            stages.setdefault(int(match.group(1)), set()).add(int(match.group(2)))
            layers.add(match.group(3))
    return stages, layers


def _found(state: dict[str, torch.Tensor]) -> str:
    """What a state dict holds, in the terms that decide which net it is."""
    stages, layers = _blocks(state)
    if stages:
        counts = "/".join(str(len(stages[s])) for s in sorted(stages))
        found = [
            f"{counts} blocks per stage in {', '.join(f'layer{s}' for s in sorted(stages))}"
            f" (block layers {', '.join(sorted(layers))})"
        ]
    else:
        found = ["no layerN.M block keys"]
    head = state.get("linear.weight")
    found.append(
        f"a {head.shape[0]}-class head (linear.weight {tuple(head.shape)})"
        if head is not None and head.dim() == 2
        else "no linear.weight (the classifier)"
    )
    keys = sorted(state)
    found.append(f"{len(keys)} keys, e.g. {', '.join(keys[:3])}")
    return "; ".join(found)


def infer_akamaster_arch(state: dict[str, torch.Tensor]) -> str:
    """cifarnets' name of the net an akamaster ``state_dict`` is, from its keys and shapes.

    The depth comes from the blocks per stage (``layerS.N``), the head size from
    ``linear.weight``. Raises :class:`ConversionError`, saying what the file holds and
    which nets it could be, when it fits none of akamaster's nets.
    """
    state = {k.removeprefix("module."): v for k, v in state.items()}
    stages, layers = _blocks(state)
    other = sorted(layers - {"conv1", "bn1", "conv2", "bn2", "shortcut"})
    if other:
        raise ConversionError(
            f"the checkpoint's blocks are not basic blocks (conv1/bn1/conv2/bn2): they also "
            f"have {', '.join(other)}"
            + (" (a bottleneck net)" if "conv3" in other else "")
            + f". Found: {_found(state)}. {_could_be()}"
        )
    if "shortcut" in layers:
        raise ConversionError(
            "the checkpoint has shortcut parameters (option B, 1x1 projections); akamaster's "
            "nets and cifarnets' ports of them use option A (zero padding) and cannot hold "
            f"them. Found: {_found(state)}. {_could_be()}"
        )
    head = state.get("linear.weight")
    if head is None or head.dim() != 2:
        raise ConversionError(
            f"not an akamaster ResNet state dict: no 'linear.weight' (its classifier). "
            f"Found: {_found(state)}. {_could_be()}"
        )
    n = len(stages.get(1, ()))
    nets = akamaster_nets()
    if set(stages) != {1, 2, 3} or any(stages[s] != set(range(n)) for s in (1, 2, 3)):
        raise ConversionError(
            f"the checkpoint fits none of akamaster's nets: they have three stages (layer1-3) "
            f"of equally many blocks. Found: {_found(state)}. {_could_be()}"
        )
    if n not in nets:
        raise ConversionError(
            f"the checkpoint fits none of akamaster's nets: {n} blocks per stage would be a "
            f"ResNet-{6 * n + 2}. Found: {_found(state)}. {_could_be()}"
        )

    def rows(key: str) -> int | None:
        return state[key].shape[0] if key in state and state[key].dim() else None

    widths = (
        rows("conv1.weight"),
        *(rows(f"layer{s}.0.conv1.weight") for s in (1, 2, 3)),
        head.shape[1],
    )
    expected = (STAGE_WIDTHS[0], *STAGE_WIDTHS, STAGE_WIDTHS[-1])
    if widths != expected:
        raise ConversionError(
            f"the checkpoint has {n} blocks per stage, as {nets[n]}, but other widths (stem, "
            f"stages, classifier input: {widths}, not {expected}): not one of akamaster's "
            f"nets. Found: {_found(state)}"
        )
    return nets[n]


def convert_akamaster(
    state: dict[str, torch.Tensor],
    arch: str | None = None,
) -> dict[str, torch.Tensor]:
    """An akamaster ``state_dict`` (``module.`` prefix, ``linear`` head) for cifarnets.

    The net is inferred from the checkpoint (:func:`infer_akamaster_arch`); ``arch``, if
    given, must agree with it. Raises :class:`ConversionError` when the checkpoint is not
    an option-A basic-block net, or not ``arch``.
    """
    if arch is not None:
        info = model_info(arch)
        if info.family != "paper" or info.shortcut != "A":
            try:
                what = f"; the file is {infer_akamaster_arch(state)}"
            except ConversionError:
                what = ""
            raise ConversionError(
                f"akamaster checkpoints are the paper's option-A ResNets (resnet20/32/44/56/"
                f"110/1202); {arch} is not one of them{what}"
            )
    inferred = infer_akamaster_arch(state)
    if arch is not None and arch != inferred:
        n, m = (model_info(inferred).depth - 2) // 6, (model_info(arch).depth - 2) // 6
        raise ConversionError(
            f"the checkpoint has {n} blocks per stage (ResNet-{6 * n + 2}); {arch} has {m}: "
            f"the file is {inferred}, not {arch} (--arch {arch} was given; leave it out to "
            f"use what the file is)"
        )
    state = {k.removeprefix("module."): v for k, v in state.items()}
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
        out.setdefault(
            key.replace(".running_mean", ".num_batches_tracked"), torch.tensor(0, dtype=torch.long)
        )
    return out


def convert_akamaster_file(
    src: str | Path,
    arch: str | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(state dict, safetensors metadata) for an akamaster checkpoint file.

    The metadata records the net (inferred from the file; ``arch``, if given, is checked
    against it), the classes and the normalisation the checkpoint was trained with, so
    that :func:`cifarnets.load_weights_file` and ``cifarnets eval`` evaluate it as it was
    trained.
    """
    import json

    checkpoint = load_akamaster_checkpoint(src)
    try:
        arch = infer_akamaster_arch(checkpoint) if arch is None else arch
        state = convert_akamaster(checkpoint, arch)
    except ConversionError as err:
        raise ConversionError(f"{src}: {err}") from None
    num_classes = int(state["fc.weight"].shape[0])
    meta = {
        "format": "pt",
        "arch": arch,
        "num_classes": str(num_classes),
        "dataset": dataset_for(num_classes),
        "mean": json.dumps(AKAMASTER_MEAN),
        "std": json.dumps(AKAMASTER_STD),
        "converted_from": f"akamaster: {Path(src).name}",
    }
    return state, meta
