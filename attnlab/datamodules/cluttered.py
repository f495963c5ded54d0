"""Cluttered digits: a procedural benchmark where both WHERE and WHAT matter, generated in a second on CPU.

Each sample is one (upsampled) digit pasted at a random position of a larger canvas among clutter:
fragments cut from random digits of the same split, so the clutter has the strokes of real digits and
the model must find the whole digit before it can read it. Pixels combine by maximum (strokes occlude
nothing), then Gaussian noise is added. Train, validation and test canvases draw digits and fragments
from disjoint source pools of the 1797 digits, and everything follows one seed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from attnlab.datamodules.base import TensorDataModule
from attnlab.datamodules.checks import require_at_least, require_fraction
from attnlab.datamodules.digits import DIGIT_CLASSES, DIGIT_SIDE, digit_images, source_pools, upsample
from attnlab.datamodules.splits import Split, Splits
from attnlab.errors import ConfigError

FRESH_STREAM = 3  # after the stored splits' streams 0-2: fresh training canvases never repeat a stored one


@dataclass(frozen=True)
class Clutter:
    """How one canvas is drawn: its side, the digit's upsampling, the clutter fragments and the noise."""

    canvas_size: int
    digit_scale: int
    fragments: int
    fragment_size: int
    noise: float


def _windows(images: np.ndarray, height: int, width: int, *, writeable: bool = False) -> np.ndarray:
    """View (N, rows, cols, height, width) of every height×width window of (N, H, W) images, without a copy.

    Indexing it with one (top, left) per image gathers or scatters whole windows, ~3x faster than
    per-pixel index grids.
    """
    return sliding_window_view(images, (height, width), axis=(1, 2), writeable=writeable)


def _paste_max(canvases: np.ndarray, patches: np.ndarray, tops: np.ndarray, lefts: np.ndarray) -> None:
    """Combine one patch per canvas into it at (top, left) by pixel-wise maximum, in place."""
    windows = _windows(canvases, patches.shape[1], patches.shape[2], writeable=True)
    samples = np.arange(len(canvases))
    # Every canvas gets exactly one window, so the overlapping-view write touches each pixel once.
    windows[samples, tops, lefts] = np.maximum(windows[samples, tops, lefts], patches)


def render_canvases(
    digits: np.ndarray, count: int, clutter: Clutter, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` canvases (count, S, S) float32 in [0, 1] drawn from ``digits`` (P, s, s), for each canvas the
    index in ``digits`` of the digit it shows (its label's source), and the digit's box (count, 4): x0, y0, x1, y1
    in pixels, ends exclusive."""
    size, side, fragment = clutter.canvas_size, digits.shape[1], clutter.fragment_size
    canvases = np.zeros((count, size, size), dtype=np.float32)
    digit_windows = _windows(digits, fragment, fragment)
    for _ in range(clutter.fragments):
        cut_at = rng.integers(0, side - fragment + 1, (2, count))
        patches = digit_windows[rng.integers(0, len(digits), count), cut_at[0], cut_at[1]]
        paste_at = rng.integers(0, size - fragment + 1, (2, count))
        _paste_max(canvases, patches, paste_at[0], paste_at[1])
    shown = rng.integers(0, len(digits), count)
    paste_at = rng.integers(0, size - side + 1, (2, count))
    _paste_max(canvases, digits[shown], paste_at[0], paste_at[1])
    if clutter.noise > 0:
        canvases += clutter.noise * rng.standard_normal(canvases.shape, dtype=np.float32)
        np.clip(canvases, 0.0, 1.0, out=canvases)
    tops, lefts = paste_at
    return canvases, shown, np.stack([lefts, tops, lefts + side, tops + side], axis=1).astype(np.int64)


@functools.lru_cache(maxsize=4)
def cluttered_splits(
    clutter: Clutter, sizes: tuple[int, int, int], val_fraction: float, test_fraction: float, seed: int
) -> Splits:
    """Train / validation / test canvases (``sizes`` of each), cached per process for repeated runs.

    ``ids`` of a sample is the index (among the 1797) of the digit it shows, ``boxes`` where it is.
    """
    return Splits(
        *(
            cluttered_split(clutter, name, size, val_fraction, test_fraction, (seed, index))
            for index, (name, size) in enumerate(zip(("train", "val", "test"), sizes, strict=True))
        )
    )


def cluttered_split(
    clutter: Clutter, name: str, count: int, val_fraction: float, test_fraction: float, stream: tuple[int, ...]
) -> Split:
    """``count`` canvases of split ``name``'s source digits, drawn from the random stream ``stream`` (its first
    entry the datamodule's seed, which also fixes the source split)."""
    images, labels = digit_images()
    pool = source_pools(labels, val_fraction, test_fraction, stream[0])[name]
    rng = np.random.default_rng(list(stream))
    canvases, shown, boxes = render_canvases(upsample(images[pool], clutter.digit_scale), count, clutter, rng)
    ids = pool[shown]
    return Split(
        torch.from_numpy(canvases)[:, None],
        torch.from_numpy(labels[ids]),
        torch.from_numpy(ids),
        torch.from_numpy(boxes),
    )


class ClutteredDigitsDataModule(TensorDataModule):
    """Digits at random positions of a larger canvas among digit-fragment clutter: 10 classes, 1 channel.

    The default task is built to stay far from solved for a tiny CNN after a few epochs, so attention
    designs that find the digit can show a difference.

    Args:
        batch_size: samples per batch (per process under DDP).
        num_train: training canvases.
        num_val: validation canvases (from their own source digits).
        num_test: test canvases (from held-out source digits).
        canvas_size: side of the square canvas, the model input side.
        digit_scale: bilinear upsampling factor of the 8×8 digits before pasting (2: 16×16 digits).
        fragments: clutter fragments per canvas.
        fragment_size: side of each square fragment, cut from a random digit of the same split.
        noise: standard deviation of the Gaussian noise added to every pixel (then clipped to [0, 1]).
        val_fraction: share of each class of the non-test source digits used for validation canvases.
        test_fraction: share of each class of the 1797 source digits held out for test canvases.
        fresh_canvases: draw new training canvases every epoch (from the same training source digits, the stream
            set by ``seed``, the run's seed and the epoch) instead of showing the same ``num_train`` each epoch;
            every row of a study sees the same canvases at a seed. Needs ``in_memory``.
        augment: shift training canvases by up to ``digit_scale`` pixels (zero fill); never flipped. Off by
            default: positions are random already, and a shift can cut off a digit at the border.
        in_memory: keep the splits on the training device and batch there (no workers).
        num_workers: ``DataLoader`` worker processes when ``in_memory`` is false.
        seed: seed of the source split and of every canvas; shuffling follows ``seed_everything`` instead.
    """

    def __init__(
        self,
        batch_size: int = 128,
        num_train: int = 10000,
        num_val: int = 2000,
        num_test: int = 2000,
        canvas_size: int = 32,
        digit_scale: int = 2,
        fragments: int = 8,
        fragment_size: int = 8,
        noise: float = 0.1,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        fresh_canvases: bool = False,
        augment: bool = False,
        in_memory: bool = True,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        for field, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            require_at_least(field, value, 1)
        require_at_least("digit_scale", digit_scale, 1)
        digit_side = DIGIT_SIDE * digit_scale
        require_at_least("canvas_size", canvas_size, digit_side)
        require_at_least("fragments", fragments, 0)
        require_at_least("fragment_size", fragment_size, 1)
        if fragment_size > digit_side:
            raise ConfigError(f"data.fragment_size: {fragment_size} is larger than a digit; valid: 1..{digit_side}")
        require_at_least("noise", noise, 0.0)
        if fresh_canvases and not in_memory:
            raise ConfigError("data.fresh_canvases: true needs data.in_memory: true (batches drawn on the device)")
        require_fraction("val_fraction", val_fraction)
        require_fraction("test_fraction", test_fraction)
        super().__init__(
            num_classes=DIGIT_CLASSES,
            in_channels=1,
            image_size=canvas_size,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
            in_memory=in_memory,
            augment=augment,
            crop_padding=digit_scale,
            flip=False,
        )
        self.save_hyperparameters()
        self.clutter = Clutter(canvas_size, digit_scale, fragments, fragment_size, noise)
        self.sizes = (num_train, num_val, num_test)
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.fresh_canvases = fresh_canvases

    def fresh_train_split(self) -> Callable[[int], Split] | None:
        if not self.fresh_canvases:
            return None
        count, stream = self.sizes[0], (self.seed, FRESH_STREAM, self.run_seed())
        return lambda epoch: cluttered_split(
            self.clutter, "train", count, self.val_fraction, self.test_fraction, (*stream, epoch)
        )

    def load_splits(self) -> Splits:
        return cluttered_splits(self.clutter, self.sizes, self.val_fraction, self.test_fraction, self.seed)
