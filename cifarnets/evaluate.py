"""Test error of a net on a set of uint8 images."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from .data import normalize

__all__ = ["EvalResult", "count_correct", "evaluate"]


@dataclass(frozen=True)
class EvalResult:
    errors: int
    total: int

    @property
    def error(self) -> float:
        """Test error in percent."""
        return 100.0 * self.errors / self.total


@torch.no_grad()
def count_correct(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    batch_size: int = 500,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
    memory_format: torch.memory_format = torch.contiguous_format,
    progress: bool = False,
) -> torch.Tensor:
    """Correct top-1 predictions of ``model`` (put in eval mode) as a tensor on ``device``.

    Nothing here waits for the device: the training engine queues this on a run's
    stream and reads the count once, at the end of the epoch.
    """
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=device)
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="eval", unit="batch", disable=not progress, leave=False):
        x = images[start : start + batch_size].to(device, non_blocking=True)
        y = labels[start : start + batch_size].to(device, non_blocking=True)
        x = normalize(x, mean, std).contiguous(memory_format=memory_format)
        with torch.autocast(
            device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
        ):
            logits = model(x)
        correct += (logits.argmax(1) == y).sum()
    return correct


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    batch_size: int = 500,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> EvalResult:
    """Top-1 errors of ``model`` (put in eval mode) on uint8 ``images`` (N, 3, 32, 32),
    in fp32. Batches are moved to ``device`` (default: the model's) one at a time."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"images must be uint8 of shape (N, 3, H, W), got {images.dtype} {tuple(images.shape)}"
        )
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"need as many labels as images (>0), got {len(images)} and {len(labels)}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    correct = count_correct(
        model,
        images,
        labels,
        mean=mean,
        std=std,
        batch_size=batch_size,
        device=device,
        progress=progress,
    )
    return EvalResult(errors=len(images) - int(correct), total=len(images))
