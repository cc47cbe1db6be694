"""The data of a run, resident on its device as uint8, and each epoch's augmentation.

uint8 until the last moment: 4x less memory and traffic than float32; the training step
normalises each batch itself. An epoch's shuffle, crop offsets and flips are drawn on
the CPU from a generator seeded by (seed, epoch) alone, so that

* a run resumed from a checkpoint sees exactly the batches it would have seen, with no
  generator state to save, and
* the same run on a CPU and on a GPU sees the same batches: a run can move between
  machines and devices between chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data import DataError, get_dataset_spec, load_split

__all__ = ["DeviceData", "Split", "augment", "epoch_generator"]


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # uint8 (N, 3, 32, 32), on the run's device
    labels: torch.Tensor  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def first(self, n: int | None, what: str) -> Split:
        if n is None:
            return self
        if n > len(self):
            raise DataError(f"{what}={n} asks for more images than the split has ({len(self):,})")
        return Split(self.images[:n], self.labels[:n])


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The CPU generator of one epoch's randomness: a function of (seed, epoch) only."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def augment(images: torch.Tensor, pad: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random ``pad``-pixel-padded crop and horizontal flip of every image.

    Zero padding of the raw uint8 images, as torchvision's RandomCrop(32, padding=4)
    before Normalize. The offsets and flips come from the CPU ``generator`` (see the
    module's docstring); the gather runs on the images' device.
    """
    n, _, h, w = images.shape
    device = images.device
    if pad:
        dy = torch.randint(0, 2 * pad + 1, (n, 1), generator=generator).to(device)
        dx = torch.randint(0, 2 * pad + 1, (n, 1), generator=generator).to(device)
        padded = F.pad(images, (pad, pad, pad, pad))
        rows = (dy + torch.arange(h, device=device))[:, None, :, None]  # (N, 1, H, 1)
        cols = (dx + torch.arange(w, device=device))[:, None, None, :]  # (N, 1, 1, W)
        batch = torch.arange(n, device=device)[:, None, None, None]
        channel = torch.arange(images.shape[1], device=device)[None, :, None, None]
        images = padded[batch, channel, rows, cols]
    if flip:
        flipped = (torch.rand(n, generator=generator) < 0.5).to(device)
        images = torch.where(flipped[:, None, None, None], images.flip(3), images)
    return images


class DeviceData:
    """A data set's train and test splits on one device (loaded once, shared by runs)."""

    def __init__(self, train: Split, test: Split) -> None:
        self.train, self.test = train, test

    @classmethod
    def load(cls, dataset: str, root: str | Path, device: torch.device) -> DeviceData:
        spec = get_dataset_spec(dataset)
        train_images, train_labels = load_split(dataset, root, train=True)
        test_images, test_labels = load_split(dataset, root, train=False)
        found = int(train_labels.max()) + 1
        if found != spec.num_classes:
            raise DataError(
                f"{root} gave {found} classes for {spec.name}, "
                f"expected {spec.num_classes}: wrong data set?"
            )
        return cls(
            Split(train_images.to(device), train_labels.to(device)),
            Split(test_images.to(device), test_labels.to(device)),
        )

    def subset(self, train_subset: int | None, test_subset: int | None) -> DeviceData:
        return DeviceData(
            self.train.first(train_subset, "train_subset"),
            self.test.first(test_subset, "test_subset"),
        )

    def epoch(
        self, seed: int, epoch: int, batch_size: int, pad: int, flip: bool
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The shuffled, augmented training batches of ``epoch`` (0-based)."""
        generator = epoch_generator(seed, epoch)
        order = torch.randperm(len(self.train), generator=generator).to(self.train.images.device)
        images = augment(self.train.images[order], pad, flip, generator)
        labels = self.train.labels[order]
        for start in range(0, len(labels), batch_size):
            yield images[start : start + batch_size], labels[start : start + batch_size]

    def steps_per_epoch(self, batch_size: int) -> int:
        return -(-len(self.train) // batch_size)
