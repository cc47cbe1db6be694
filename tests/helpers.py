"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_weights(
    arch: str = "resnet20",
    tag: str = "test_v1",
    *,
    hub=None,
    package_copy: bool = True,
    seed: int = 0,
    num_classes: int = 10,
    state_dict: dict | None = None,
    data: bytes | None = None,
    test_error: float = 12.34,
    default: bool = True,
):
    """Publish a randomly initialised net (seed ``seed``) as ``arch.tag`` into the current
    weights folder (``weights_dir``) and, with ``hub``, into a FakeHub repo. ``state_dict``
    or raw file ``data`` replace the net's own. Returns ``(Weights, file bytes)``."""
    import hashlib

    import torch
    from safetensors.torch import save

    import cifarnets
    from cifarnets.data import DATASETS
    from cifarnets.publish import read_folder, write_manifest
    from cifarnets.weights import Weights, pretrained_dir

    torch.manual_seed(seed)
    model = cifarnets.get_model(arch, num_classes=num_classes)
    if data is None:
        data = save(state_dict if state_dict is not None else model.state_dict())
    repo = f"cifarnets-test/{arch}.{tag}"
    revision = hub.add_commit(repo, {"model.safetensors": data}) if hub is not None else None
    spec = DATASETS["cifar10"]
    weights = Weights(
        arch=arch,
        tag=tag,
        dataset="cifar10",
        num_classes=num_classes,
        mean=spec.mean,
        std=spec.std,
        sha256=hashlib.sha256(data).hexdigest(),
        file_size=len(data),
        num_params=sum(p.numel() for p in model.parameters()),
        hub_repo=repo,
        hub_revision=revision,
        metrics={"test_error": test_error, "seeds": [seed]},
        recipe={"command": "made by the tests"},
        training={},
        categories=(
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ),
    )
    if package_copy:
        (pretrained_dir() / weights.filename).write_bytes(data)
    table, defaults = read_folder(pretrained_dir())
    if default:
        defaults.setdefault(arch, {})["cifar10"] = tag
    write_manifest(pretrained_dir(), {**table, weights.name: weights}, defaults)
    return weights, data
