"""CIFAR-10/100: loading from torchvision's on-disk layout, normalisation, the test sample.

Images are returned as uint8 tensors of shape (N, 3, 32, 32): the training engine keeps
them that way on the GPU and normalises at the last moment (4x less memory traffic than
float32), and evaluation normalises per batch.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file

__all__ = [
    "DATASETS",
    "DataError",
    "DatasetSpec",
    "default_data_root",
    "get_dataset_spec",
    "load_split",
    "load_test_sample",
    "normalize",
]


@dataclass(frozen=True)
class DatasetSpec:
    """What the rest of the library needs to know about a data set."""

    name: str
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    folder: str  # the folder torchvision extracts under the data root
    torchvision_name: str  # its class in torchvision.datasets

    @property
    def torchvision_class(self) -> type:
        import torchvision.datasets  # seconds to import: only when data is read

        return getattr(torchvision.datasets, self.torchvision_name)


DATASETS: dict[str, DatasetSpec] = {
    # The seed report's constants (per-channel, over the training set). The widely
    # copied std (0.2023, 0.1994, 0.2010) is wrong: it is not the std of the pixels.
    "cifar10": DatasetSpec(
        "cifar10", 10, (0.4914, 0.4824, 0.4467), (0.2471, 0.2435, 0.2616),
        "cifar-10-batches-py", "CIFAR10",
    ),
    # Per-channel mean/std of the CIFAR-100 training pixels, as commonly published.
    "cifar100": DatasetSpec(
        "cifar100", 100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762),
        "cifar-100-python", "CIFAR100",
    ),
}

# The shipped sample: the first 100 test images of each CIFAR-10 class (1,000 images).
_SAMPLE_FILE = "cifar10_test_sample.safetensors"
_DOWNLOAD_TIMEOUT_S = 10


class DataError(RuntimeError):
    """A data set is missing, corrupt, or not the one asked for."""


def default_data_root() -> Path:
    """Where data sets live unless told otherwise: ``~/.cache/cifarnets/data``."""
    return Path.home() / ".cache" / "cifarnets" / "data"


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

    ``root`` is in torchvision's layout (``ROOT/cifar-10-batches-py/``); every file's
    md5 is checked by torchvision. With ``download=True`` a missing data set is fetched
    from its official URL (failing within seconds when there is no network).
    """
    spec = get_dataset_spec(dataset)
    root = Path(root).expanduser()
    folder = root / spec.folder
    if download and not folder.is_dir():
        _check_reachable(spec.torchvision_class.url, spec, root)
    elif not folder.is_dir():
        raise DataError(_missing_message(spec, root))
    try:
        ds = spec.torchvision_class(str(root), train=train, download=download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
        raise DataError(
            f"{spec.name} at {folder} is incomplete or corrupt (a file is missing or its "
            f"md5 does not match the official one: {err}). Fix: delete {folder} and "
            f"download again (--download / download=True), or rebuild it from a "
            f"verified copy."
        ) from err
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor(ds.targets, dtype=torch.int64)
    return images, labels


def _missing_message(spec: DatasetSpec, root: Path) -> str:
    others = [s.folder for s in DATASETS.values() if s is not spec and (root / s.folder).is_dir()]
    found = f" (it holds {', '.join(others)}, a different data set)" if others else ""
    return (
        f"{spec.name} not found: expected the folder {root / spec.folder}{found}. "
        f"Fix: pass the directory that contains {spec.folder}/ (torchvision's layout), "
        f"or download it with --download (download=True) when online."
    )


def _check_reachable(url: str, spec: DatasetSpec, root: Path) -> None:
    """Fail fast when offline: torchvision's own download has no timeout and can hang."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"),
                               timeout=_DOWNLOAD_TIMEOUT_S).close()
    except (urllib.error.URLError, OSError) as err:
        raise DataError(
            f"cannot download {spec.name}: {url} is unreachable ({err}). Fix: connect to "
            f"the internet, or place the extracted data set at {root / spec.folder}."
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
