"""A few samples of a split picked by seed, as the model sees them and as a person does (``attnlab explain``).

Every datamodule hands them out the same way, so an explanation compares designs on exactly the same
images, and a dataset that knows where each object is hands out its boxes too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from attnlab.errors import ConfigError

SPLITS = ("train", "val", "test")
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in input pixels, ends exclusive


@dataclass(frozen=True)
class ShownSamples:
    """``inputs``: N×C×H×W as the evaluation loaders give them (normalised); ``pictures``: the same in [0, 1] to
    draw; ``labels``: N; ``indices``: positions in the split; ``boxes``: per sample its object boxes (several
    for several objects), None for a dataset without boxes."""

    inputs: torch.Tensor
    pictures: torch.Tensor
    labels: torch.Tensor
    indices: tuple[int, ...]
    boxes: tuple[tuple[Box, ...], ...] | None = None


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"--split: {split!r} is not a split; use one of {', '.join(SPLITS)}")


def check_count(count: int) -> None:
    if count < 1:
        raise ConfigError(f"--images: {count} is not a number of images; valid: 1 or more")


def seeded_indices(length: int, count: int, seed: int) -> np.ndarray:
    """``count`` distinct positions of ``length`` drawn by ``seed``, in increasing order (all of them if fewer)."""
    check_count(count)
    chosen = np.random.default_rng(seed).choice(length, size=min(count, length), replace=False)
    return np.sort(chosen)
