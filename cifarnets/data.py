"""CIFAR-10/100: loading from torchvision's on-disk layout, normalisation, the test sample.

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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file

__all__ = [
    "DATASETS",
    "DataDownloadError",
    "DataError",
    "DataFile",
    "DatasetSpec",
    "default_data_root",
    "get_dataset_spec",
    "load_split",
    "load_test_sample",
    "normalize",
]


@dataclass(frozen=True)
class DataFile:
    """One file of a data set's folder, as the official archive has it."""

    name: str
    md5: str
    size: int | None  # bytes; None where no copy was at hand to measure


@dataclass(frozen=True)
class DatasetSpec:
    """What the rest of the library needs to know about a data set."""

    name: str
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    folder: str  # the folder the official archive extracts under the data root
    url: str  # the official archive
    archive_md5: str
    train_files: tuple[DataFile, ...]
    test_files: tuple[DataFile, ...]


# Names and md5s as torchvision.datasets.CIFAR10/100 check them; CIFAR-10's sizes are
# those of the official files (the tests check them against the real data).
DATASETS: dict[str, DatasetSpec] = {
    # The seed report's constants (per-channel, over the training set). The widely
    # copied std (0.2023, 0.1994, 0.2010) is wrong: it is not the std of the pixels.
    "cifar10": DatasetSpec(
        "cifar10", 10, (0.4914, 0.4824, 0.4467), (0.2471, 0.2435, 0.2616),
        "cifar-10-batches-py", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
        train_files=(
            DataFile("data_batch_1", "c99cafc152244af753f735de768cd75f", 31_035_704),
            DataFile("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec", 31_035_320),
            DataFile("data_batch_3", "54ebc095f3ab1f0389bbae665268c751", 31_035_999),
            DataFile("data_batch_4", "634d18415352ddfa80567beed471001a", 31_035_696),
            DataFile("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb", 31_035_623),
        ),
        test_files=(DataFile("test_batch", "40351d587109b95175f43aff81a1287e", 31_035_526),),
    ),
    # Per-channel mean/std of the CIFAR-100 training pixels, as commonly published.
    "cifar100": DatasetSpec(
        "cifar100", 100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762),
        "cifar-100-python", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
        train_files=(DataFile("train", "16019d7e3df5f24257cddd939b257f8d", None),),
        test_files=(DataFile("test", "f0ef6b0ae62326f3e7ffdfab6717acfc", None),),
    ),
}

# The shipped sample: the first 100 test images of each CIFAR-10 class (1,000 images).
_SAMPLE_FILE = "cifar10_test_sample.safetensors"
_DOWNLOAD_TIMEOUT_S = 10


class DataError(RuntimeError):
    """A data set is missing, corrupt, or not the one asked for."""


class DataDownloadError(DataError):
    """A data set could not be downloaded: its URL is unreachable from this machine."""


def default_data_root() -> Path:
    """Where data sets live unless told otherwise: ``~/.cache/cifarnets/data``."""
    return Path.home() / ".cache" / "cifarnets" / "data"


def dataset_for(num_classes: int) -> str:
    """The data set a head of ``num_classes`` outputs is for (CIFAR-100 or CIFAR-10)."""
    return "cifar100" if num_classes == 100 else "cifar10"


def get_dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` for ``"cifar10"`` or ``"cifar100"``."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}"
        ) from None


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
            faults.append(f"{expected.name}: wrong size, expected {expected.size:,} bytes, "
                          f"got {size:,} (truncated or not the official file)")
        elif (md5 := _md5(path)) != expected.md5:
            faults.append(f"{expected.name}: md5 mismatch, expected {expected.md5}, got "
                          f"{md5} (its bytes differ from the official file's)")
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
        f"{spec.name} at {folder} is incomplete or corrupt:\n  " + "\n  ".join(faults)
        + f"\nFix: download it again, which replaces the faulty files (--download, or "
        f"download=True in Python), or delete {folder} and put a verified copy there."
    )


def _download(spec: DatasetSpec, root: Path) -> None:
    """The official archive, md5-checked and extracted into ``root``."""
    _check_reachable(spec, root)
    from torchvision.datasets.utils import download_and_extract_archive

    archive = spec.url.rsplit("/", 1)[1]
    try:
        download_and_extract_archive(spec.url, str(root), filename=archive,
                                     md5=spec.archive_md5)
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
        urllib.request.urlopen(urllib.request.Request(spec.url, method="HEAD"),
                               timeout=_DOWNLOAD_TIMEOUT_S).close()
    except (urllib.error.URLError, OSError) as err:
        raise DataDownloadError(
            f"cannot download {spec.name}: {spec.url} is unreachable ({err}). Fix: connect "
            f"to the internet, or place the extracted data set at {root / spec.folder}."
        ) from err


def normalize(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...],
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
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


# Class names in label order, as in the data set's own batches.meta (checked by the tests
# against the real file). CIFAR-100's are not listed: no copy of it was at hand to check.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                "ship", "truck"),
}
