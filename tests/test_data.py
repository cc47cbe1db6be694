"""Data loading: the real CIFAR-10, the shipped sample, and every way data can be wrong."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import torch

from cifarnets.data import (
    DATASETS,
    DataError,
    get_dataset_spec,
    load_split,
    load_test_sample,
    normalize,
)


def test_real_cifar10_splits(cifar10_root):
    train_images, train_labels = load_split("cifar10", cifar10_root, train=True)
    test_images, test_labels = load_split("cifar10", cifar10_root, train=False)
    assert train_images.shape == (50_000, 3, 32, 32) and train_images.dtype == torch.uint8
    assert test_images.shape == (10_000, 3, 32, 32)
    # First labels and class balance of the official files (cifar-10-python.tar.gz).
    assert train_labels[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert test_labels[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert train_labels.bincount().tolist() == [5000] * 10
    assert test_labels.bincount().tolist() == [1000] * 10


def test_normalisation_constants_match_the_training_set(cifar10_root):
    images, _ = load_split("cifar10", cifar10_root, train=True)
    pixels = images.double().div(255).permute(1, 0, 2, 3).reshape(3, -1)
    spec = get_dataset_spec("cifar10")
    # The report's constants; its G/B means are 0.0002 off the pixel means.
    assert pixels.mean(1).tolist() == pytest.approx(spec.mean, abs=3e-4)
    assert pixels.std(1).tolist() == pytest.approx(spec.std, abs=2e-4)
    assert spec.std != (0.2023, 0.1994, 0.2010), "the widely copied wrong std"


def test_shipped_sample_is_the_real_test_set(cifar10_root):
    images, labels, indices = load_test_sample()
    assert images.shape == (1000, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.bincount().tolist() == [100] * 10
    test_images, test_labels = load_split("cifar10", cifar10_root, train=False)
    assert torch.equal(images, test_images[indices])
    assert torch.equal(labels, test_labels[indices])
    first_per_class = [int((test_labels == c).nonzero()[0]) for c in range(10)]
    assert set(first_per_class) <= set(indices.tolist())


def test_normalize():
    images = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 3, 1, 1)
    out = normalize(images, (0.5, 0.5, 0.5), (0.25, 0.5, 1.0))
    assert out[0, :, 0, 0].tolist() == [-2.0, -1.0, -0.5]
    assert out[1, :, 0, 0].tolist() == [2.0, 1.0, 0.5]


def test_missing_data_says_where_and_how_to_fix(tmp_path):
    with pytest.raises(DataError) as excinfo:
        load_split("cifar10", tmp_path, train=False)
    message = str(excinfo.value)
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert "--download" in message and "torchvision's layout" in message


def test_wrong_data_set_is_named(cifar10_root):
    with pytest.raises(DataError, match="holds cifar-10-batches-py, a different data set"):
        load_split("cifar100", cifar10_root, train=False)


@pytest.fixture
def test_batch(cifar10_root, tmp_path) -> Path:
    """A copy of the real test_batch in tmp_path/cifar-10-batches-py/ (all a test split
    needs), for the tests to damage."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    return Path(shutil.copy(cifar10_root / "cifar-10-batches-py" / "test_batch", folder))


def damage(batch: Path, fault: str) -> None:
    if fault == "missing":
        batch.unlink()
    elif fault == "truncated":
        batch.write_bytes(batch.read_bytes()[:1_000_000])
    elif fault == "flipped":
        data = bytearray(batch.read_bytes())
        data[5000] ^= 0xFF
        batch.write_bytes(bytes(data))


FAULTS = {
    "missing": "test_batch: missing",
    "truncated": "test_batch: wrong size, expected 31,035,526 bytes, got 1,000,000",
    "flipped": "test_batch: md5 mismatch, expected 40351d587109b95175f43aff81a1287e, got ",
}


def test_the_copied_test_batch_loads(test_batch):
    images, labels = load_split("cifar10", test_batch.parents[1], train=False)
    assert images.shape == (10_000, 3, 32, 32) and labels[:3].tolist() == [3, 8, 8]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_faulty_batch_is_named_with_its_fault_and_the_fix(test_batch, fault):
    damage(test_batch, fault)
    with pytest.raises(DataError) as excinfo:
        load_split("cifar10", test_batch.parents[1], train=False)
    message = str(excinfo.value)
    assert f"cifar10 at {test_batch.parent} is incomplete or corrupt" in message
    assert FAULTS[fault] in message
    assert "Fix: download it again" in message and "--download" in message
    assert f"or delete {test_batch.parent}" in message


@pytest.mark.parametrize("fault", ["missing_folder", *FAULTS])
def test_download_fails_fast_without_network(test_batch, fault, offline):
    if fault == "missing_folder":
        shutil.rmtree(test_batch.parent)
    else:
        damage(test_batch, fault)
    start = time.monotonic()
    with pytest.raises(DataError, match=r"cannot download cifar10.*unreachable.*Fix"):
        load_split("cifar10", test_batch.parents[1], train=False, download=True)
    assert time.monotonic() - start < 5
    assert sorted(p.name for p in test_batch.parents[1].rglob("*")) == (
        []
        if fault == "missing_folder"
        else ["cifar-10-batches-py", *(["test_batch"] if fault != "missing" else [])]
    ), "nothing downloaded, nothing deleted"


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError("File not found or corrupted."),  # torchvision: the archive's md5
        ConnectionResetError("Connection reset by peer"),  # dropped after the HEAD check
        PermissionError("[Errno 13] Permission denied: 'cifar-10-python.tar.gz'"),
    ],
)
def test_a_download_that_fails_midway_is_one_clear_error(tmp_path, monkeypatch, failure):
    import torchvision.datasets.utils as tv_utils

    from cifarnets import data

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(data, "_check_reachable", lambda spec, root: None)  # "online"
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", fail)
    with pytest.raises(DataError, match=r"downloading cifar10 into .* failed: .*Fix: run the"):
        load_split("cifar10", tmp_path, train=False, download=True)


def test_a_good_folder_needs_no_network(test_batch, offline):
    images, _ = load_split("cifar10", test_batch.parents[1], train=False, download=True)
    assert len(images) == 10_000


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'; expected one of cifar10"):
        get_dataset_spec("mnist")
    assert set(DATASETS) == {"cifar10", "cifar100"}
