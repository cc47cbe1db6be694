"""The data sets' facts: CIFAR-10/100's official files, normalisation, class names.

Read without torch (``cifarnets list`` and ``info`` need them); loading the images is
``cifarnets.data``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CATEGORIES",
    "DATASETS",
    "DataFile",
    "DatasetSpec",
    "dataset_for",
    "default_data_root",
    "get_dataset_spec",
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
    # The lab report's constants (per-channel, over the training set). The widely
    # copied std (0.2023, 0.1994, 0.2010) is wrong: it is not the std of the pixels.
    "cifar10": DatasetSpec(
        "cifar10",
        10,
        (0.4914, 0.4824, 0.4467),
        (0.2471, 0.2435, 0.2616),
        "cifar-10-batches-py",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
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
        "cifar100",
        100,
        (0.5071, 0.4865, 0.4409),
        (0.2673, 0.2564, 0.2762),
        "cifar-100-python",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
        train_files=(DataFile("train", "16019d7e3df5f24257cddd939b257f8d", None),),
        test_files=(DataFile("test", "f0ef6b0ae62326f3e7ffdfab6717acfc", None),),
    ),
}


# Class names in label order, as in the data set's own batches.meta (checked by the tests
# against the real file). CIFAR-100's are not listed: no copy of it was at hand to check.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "cifar10": (
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
}


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
