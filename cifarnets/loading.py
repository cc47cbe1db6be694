"""Loading weights into a net: published ones (fetched and verified) or a local file.

Every load checks each key and shape before it copies anything, so that a file that
does not fit leaves the net as it was, and records what was loaded in
``model.pretrained_weights`` (and timm's ``model.pretrained_cfg``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from ._registry import arch_for
from ._safetensors import RUN_STATE_KEY
from .datasets import dataset_for, get_dataset_spec
from .errors import WeightsError, WeightsIntegrityError
from .hub import fetch, sha256_of
from .weights import Weights, get_weights, pretrained_cfg_for

__all__ = [
    "arch_of",
    "load_checked",
    "load_state_dict",
    "load_weights_file",
    "local_weights",
    "read_safetensors",
]


def read_safetensors(path: Path, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(tensors, metadata)`` of a safetensors file; never unpickles anything."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsIntegrityError(
            f"{path} ({what}) is not a readable safetensors file: {err}. Fix: it is "
            f"truncated or damaged; copy or download it again (published weights are "
            f"fetched again when the damaged copy is deleted)"
        ) from err


def load_state_dict(
    weights: str | Weights,
    arch: str | None = None,
    *,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, torch.Tensor]:
    """The verified state dict of published weights (see :func:`get_weights`)."""
    weights = get_weights(weights, arch)
    path = fetch(weights, cache_dir=cache_dir, progress=progress)
    return read_safetensors(path, weights.name)[0]


def load_checked(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    what: str,
    *,
    skip: tuple[str, ...] = (),
) -> nn.Module:
    """Load ``state_dict`` into ``model`` if it fits exactly; return the model in eval mode.

    Every key and shape is checked first, so that a mismatch raises (naming the keys)
    and leaves the model untouched: PyTorch's own ``load_state_dict`` copies the
    matching tensors before it reports the rest. Keys starting with one of ``skip``
    (a replaced classifier) are neither loaded nor required.
    """
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith(skip)}
    state_dict = {k: v for k, v in state_dict.items() if not k.startswith(skip)}
    missing = sorted(expected.keys() - state_dict.keys())
    unexpected = sorted(state_dict.keys() - expected.keys())
    wrong_shape = [
        f"{k}: file {tuple(state_dict[k].shape)}, net {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} keys ({', '.join(missing[:4])}...)")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} keys ({', '.join(unexpected[:4])}...)")
    if wrong_shape:
        problems.append("wrong shapes: " + "; ".join(wrong_shape[:4]))
    if problems:
        hint = ""
        if any(k.startswith("module.") for k in state_dict):
            hint = " (keys start with 'module.': strip that DataParallel prefix)"
        if any(k.startswith("linear.") for k in state_dict):
            hint = (
                " (an akamaster/pytorch_resnet_cifar10 checkpoint? convert it: "
                "cifarnets convert akamaster SRC.th OUT.safetensors)"
            )
        raise WeightsIntegrityError(
            f"{what} does not fit {type(model).__name__}: {'; '.join(problems)}{hint}"
        )
    model.load_state_dict(state_dict, strict=not skip)
    return model.eval()


def load_weights_file(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a local safetensors state dict (a training run's, a converted checkpoint)
    into ``model``; return it in eval mode.

    Checks every key and shape first, and the net the file says it is for (its
    ``arch`` metadata), so that a resnet20 file never loads into a plain20 of the same
    shapes. Afterwards ``model.pretrained_weights`` describes this file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    state_dict, meta = read_safetensors(path, "weights file")
    if RUN_STATE_KEY in meta:
        raise WeightsError(
            f"{path} is a training checkpoint (model, optimizer and progress of a run), not "
            f"a weights file: the run writes weights.safetensors beside it when it finishes, "
            f"and its per-epoch test error is in log.csv there. Fix: let the run finish "
            f"(`cifarnets train` with the run's options continues it)"
        )
    arch = arch_of(model)
    if meta.get("arch") and arch and meta["arch"] != arch:
        raise WeightsIntegrityError(
            f"{path} holds weights of {meta['arch']} (its metadata says so), but the net is "
            f"{arch}: build cifarnets.{meta['arch']}() for it"
        )
    # Described before loading: a file whose metadata cannot be read leaves the net and
    # its description as they were, never new weights under the old description.
    described = local_weights(path, meta, model, arch)
    load_checked(model, state_dict, str(path))
    model.pretrained_weights = described
    if hasattr(model, "pretrained_cfg"):  # timm's view of the input: the file's mean and std
        model.pretrained_cfg = pretrained_cfg_for(arch, described)
    return model


def local_weights(
    path: Path, meta: Mapping[str, str], model: nn.Module, arch: str | None
) -> Weights:
    """A :class:`Weights` describing a local file (tag ``local``), from its metadata."""
    # Without metadata, the data set the net's head is for (100 outputs: CIFAR-100).
    dataset = meta.get("dataset") or dataset_for(int(getattr(model, "num_classes", 10)))
    try:
        spec = get_dataset_spec(dataset)
        mean = tuple(json.loads(meta["mean"])) if "mean" in meta else spec.mean
        std = tuple(json.loads(meta["std"])) if "std" in meta else spec.std
    except ValueError as err:  # json's errors are ValueErrors too
        raise WeightsIntegrityError(
            f"{path} has metadata cifarnets cannot read ({err}): its dataset, mean and std "
            f"say how to preprocess its inputs. Fix the file's metadata (cifarnets writes "
            f"dataset cifar10 or cifar100, mean and std as JSON lists); nothing was loaded"
        ) from err
    source = {
        "path": str(path.resolve()),
        **{k: v for k, v in meta.items() if k in ("converted_from", "run", "recipe")},
    }
    if "mean" not in meta or "std" not in meta:  # say so rather than pass a guess off as fact
        source["normalisation"] = (
            f"assumed: the file does not say; {dataset}'s mean and std are used"
        )
    if "dataset" not in meta:
        source["dataset"] = f"assumed {dataset}: the file does not say"
    return Weights(
        arch=meta.get("arch") or arch or type(model).__name__,
        tag="local",
        dataset=dataset,
        num_classes=int(getattr(model, "num_classes", 0)),
        mean=mean,
        std=std,
        sha256=sha256_of(path),
        file_size=path.stat().st_size,
        num_params=sum(p.numel() for p in model.parameters()),
        hub_repo="",
        hub_revision=None,
        # A local file's terms are its author's: nothing here says they are the project's.
        license=meta.get("license", "unknown"),
        source=source,
    )


def arch_of(model: nn.Module) -> str | None:
    """The registry name of a CifarResNet's architecture (block, depth, shortcut), if it
    has one."""
    return arch_for(
        getattr(model, "block", None),
        getattr(model, "depth", None),
        getattr(model, "shortcut", "?"),
    )
