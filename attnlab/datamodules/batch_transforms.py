"""Augmentation and normalisation of a whole batch as tensor ops, on whatever device the batch lives.

One implementation serves both paths: the in-memory loader calls it on the training device (no
worker processes), the ``DataLoader`` path calls it in its ``collate_fn`` (inside the workers). Each
sample gets its own crop offset and flip, drawn from ``generator`` (or torch's global generator,
which Lightning seeds per worker), so the result is reproducible from the seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch.utils.data import default_collate


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """Float32 images in [0, 1]: uint8 storage (compact for CIFAR-sized sets) is divided by 255."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator | None) -> torch.Tensor:
    """Zero-pad by ``padding`` on every side, then crop back to H×W at a random offset per sample."""
    count, _, height, width = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (2, count), generator=generator, device=images.device)
    rows = offsets[0, :, None] + torch.arange(height, device=images.device)
    cols = offsets[1, :, None] + torch.arange(width, device=images.device)
    samples = torch.arange(count, device=images.device)[:, None, None]
    # N×(H+2p)×(W+2p)×C indexed by per-sample row and column grids -> N×H×W×C.
    cropped = padded.permute(0, 2, 3, 1)[samples, rows[:, :, None], cols[:, None, :]]
    return cropped.permute(0, 3, 1, 2).contiguous()


def random_horizontal_flip(images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Mirror each sample left-right with probability 1/2."""
    flip = torch.rand(images.shape[0], generator=generator, device=images.device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def normalise(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Subtract the per-channel mean and divide by the per-channel standard deviation."""
    mean_t = torch.tensor(mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    return (images - mean_t) / std_t


@dataclass(frozen=True)
class BatchTransform:
    """Stored images -> model input: unit range, optional random crop (zero padding) and flip, normalise."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_padding: int = 0
    flip: bool = False

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        batch = to_unit_range(images)
        if self.crop_padding > 0:
            batch = random_crop(batch, self.crop_padding, generator)
        if self.flip:
            batch = random_horizontal_flip(batch, generator)
        return normalise(batch, self.mean, self.std)

    def deterministic(self) -> BatchTransform:
        """The same normalisation without augmentation, for validation and test."""
        return replace(self, crop_padding=0, flip=False)


@dataclass(frozen=True, eq=False)
class TransformingCollate:
    """``collate_fn`` that stacks ``(image, label)`` samples and transforms the batch (picklable for workers).

    ``generator`` draws the augmentation (``None``: torch's global RNG, which Lightning seeds per worker).
    """

    transform: BatchTransform
    generator: torch.Generator | None = None

    def __call__(self, samples: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = default_collate(samples)
        return self.transform(images, self.generator), labels
