"""CIFAR-10/100: loading from torchvision's on-disk layout, normalisation, the test sample.

The data sets' facts (files, md5s, mean and std, class names) are in
``cifarnets.datasets``; they are importable from here too.

Images are returned as uint8 tensors of shape (N, 3, 32, 32): the training engine keeps
them that way on the GPU and normalises at the last moment (4x less memory traffic than
float32), and evaluation normalises per batch.
"""

from __future__ import annotations

import hashlib
import pickle
import tarfile
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file

from .datasets import (
    CATEGORIES,
    DATASETS,
    DataFile,
    DatasetSpec,
    dataset_for,
    default_data_root,
    get_dataset_spec,
)
from .errors import DataDownloadError, DataError

__all__ = [
    "CATEGORIES",
    "DATASETS",
    "DataDownloadError",
    "DataError",
    "DataFile",
    "DatasetSpec",
    "dataset_for",
    "default_data_root",
    "get_dataset_spec",
    "load_split",
    "load_test_sample",
    "normalize",
]


# The shipped sample: the first 100 test images of each CIFAR-10 class (1,000 images).
_SAMPLE_FILE = "cifar10_test_sample.safetensors"
_DOWNLOAD_TIMEOUT_S = 10


def load_split(
    dataset: str, root: str | Path, *, train: bool, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """One split as ``(images uint8 (N, 3, 32, 32), labels int64 (N,))``.

    ``root`` is in torchvision's layout (``ROOT/cifar-10-batches-py/``). Every file of
    the split is checked (present, size, md5) before it is read, and a fault is a
    :class:`DataError` naming the file. With ``download=True`` a missing or faulty data
    set is fetched from its official URL first (failing within seconds when offline).
    """
    spec = get_dataset_spec(dataset)
    root = Path(root).expanduser()
    folder = root / spec.folder
    files = spec.train_files if train else spec.test_files
    faults = _faults(folder, files)
    if faults and download:
        _download(spec, root)
        faults = _faults(folder, files)
    if not folder.is_dir():
        raise DataError(_missing_message(spec, root))
    if faults:
        raise DataError(_corrupt_message(spec, root, faults))
    batches = [_read_batch(folder / f.name) for f in files]
    images = torch.cat([images for images, _ in batches])
    labels = torch.cat([labels for _, labels in batches])
    return images, labels


def _faults(folder: Path, files: tuple[DataFile, ...]) -> list[str]:
    """What is wrong with each file, one line per faulty file (none: all good)."""
    faults = []
    for expected in files:
        path = folder / expected.name
        if not path.is_file():
            faults.append(f"{expected.name}: missing")
            continue
        size = path.stat().st_size
        if expected.size is not None and size != expected.size:
            faults.append(
                f"{expected.name}: wrong size, expected {expected.size:,} bytes, "
                f"got {size:,} (truncated or not the official file)"
            )
        elif (md5 := _md5(path)) != expected.md5:
            faults.append(
                f"{expected.name}: md5 mismatch, expected {expected.md5}, got "
                f"{md5} (its bytes differ from the official file's)"
            )
    return faults


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _read_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """One official batch file: a pickled dict (read only after its md5 matched)."""
    with path.open("rb") as f:
        entry = pickle.load(f, encoding="latin1")
    labels = entry["labels"] if "labels" in entry else entry["fine_labels"]
    images = torch.from_numpy(entry["data"]).view(-1, 3, 32, 32)
    return images, torch.tensor(labels, dtype=torch.int64)


def _missing_message(spec: DatasetSpec, root: Path) -> str:
    others = [s.folder for s in DATASETS.values() if s is not spec and (root / s.folder).is_dir()]
    found = f" (it holds {', '.join(others)}, a different data set)" if others else ""
    return (
        f"{spec.name} not found: expected the folder {root / spec.folder}{found}. "
        f"Fix: pass the directory that contains {spec.folder}/ (torchvision's layout), "
        f"or download it with --download (download=True) when online."
    )


def _corrupt_message(spec: DatasetSpec, root: Path, faults: list[str]) -> str:
    folder = root / spec.folder
    return (
        f"{spec.name} at {folder} is incomplete or corrupt:\n  "
        + "\n  ".join(faults)
        + f"\nFix: download it again, which replaces the faulty files (--download, or "
        f"download=True in Python), or delete {folder} and put a verified copy there."
    )


def _download(spec: DatasetSpec, root: Path) -> None:
    """The official archive, md5-checked and extracted into ``root``."""
    _check_reachable(spec, root)
    from torchvision.datasets.utils import download_and_extract_archive

    archive = spec.url.rsplit("/", 1)[1]
    try:
        download_and_extract_archive(spec.url, str(root), filename=archive, md5=spec.archive_md5)
    except (OSError, RuntimeError, tarfile.TarError) as err:
        # A connection dropped after the check above, an archive that fails its md5
        # (torchvision raises RuntimeError), a damaged tar, a folder we cannot write.
        raise DataDownloadError(
            f"downloading {spec.name} into {root} failed: {_one_line(err)}. Fix: run the "
            f"command again (a partial archive {root / archive} is checked and replaced), "
            f"or place the extracted data set at {root / spec.folder}."
        ) from err


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _check_reachable(spec: DatasetSpec, root: Path) -> None:
    """Fail fast when offline: torchvision's own download has no timeout and can hang."""
    try:
        urllib.request.urlopen(
            urllib.request.Request(spec.url, method="HEAD"), timeout=_DOWNLOAD_TIMEOUT_S
        ).close()
    except (urllib.error.URLError, OSError) as err:
        raise DataDownloadError(
            f"cannot download {spec.name}: {spec.url} is unreachable ({err}). Fix: connect "
            f"to the internet, or place the extracted data set at {root / spec.folder}."
        ) from err


def normalize(
    images: torch.Tensor,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> normalised float: ``(x / 255 - mean) / std``."""
    mean_t = torch.tensor(mean, device=images.device, dtype=dtype).view(1, -1, 1, 1)
    std_t = torch.tensor(std, device=images.device, dtype=dtype).view(1, -1, 1, 1)
    return (images.to(dtype) / 255 - mean_t) / std_t


def load_test_sample() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The CIFAR-10 test sample shipped with the package.

    Returns ``(images uint8 (1000, 3, 32, 32), labels, indices)``: the first 100 test
    images of each class, with their indices in the official test set. An error
    measured on it is a sample estimate (one standard error is about 0.95 points at
    10 % error), not the published test error.
    """
    tensors = load_file(str(resources.files("cifarnets") / "assets" / _SAMPLE_FILE))
    return tensors["images"], tensors["labels"], tensors["indices"]
