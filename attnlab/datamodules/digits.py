"""scikit-learn's bundled handwritten digits: the embedded dataset that needs no download.

The 1797 8×8 images (values 0..16) are split once into disjoint train / validation / test source
pools; the cluttered benchmark draws its digits from the same pools, so no digit image crosses splits.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from attnlab.datamodules.base import TensorDataModule
from attnlab.datamodules.checks import require_at_least, require_fraction
from attnlab.datamodules.splits import Split, Splits, stratified_holdout

DIGIT_SIDE = 8
DIGIT_CLASSES = 10


@functools.cache
def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits as read-only float32 (N, 8, 8) in [0, 1] and int64 labels, read once per process."""
    from sklearn.datasets import load_digits  # sklearn costs ~1 s to import: only when data is needed

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def source_pools(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Disjoint sorted index pools per split: test is ``test_fraction`` of each class, validation
    ``val_fraction`` of each class of the rest, training what remains."""
    rest, test = stratified_holdout(labels, test_fraction, seed, "test_fraction")
    kept, val = stratified_holdout(labels[rest], val_fraction, seed + 1, "val_fraction")
    return {"train": rest[kept], "val": rest[val], "test": test}


def upsample(images: np.ndarray, scale: int) -> np.ndarray:
    """(N, h, w) images enlarged ``scale`` times with bilinear interpolation (values stay in [0, 1])."""
    if scale == 1:
        return images
    stack = torch.tensor(images)[:, None]  # a copy: the cached source is read-only
    return F.interpolate(stack, scale_factor=scale, mode="bilinear", align_corners=False)[:, 0].numpy()


class DigitsDataModule(TensorDataModule):
    """scikit-learn's 1797 handwritten 8×8 digits, 10 classes, 1 channel; held-out digits form the test split.

    Args:
        batch_size: samples per batch (per process under DDP).
        scale: bilinear upsampling factor of the 8×8 images; the model input side is ``8 * scale``.
        val_fraction: share of each class of the non-test digits carved out (seeded) as validation.
        test_fraction: share of each class held out (seeded) as the test split.
        augment: shift training images by up to ``scale`` pixels (zero fill); never flipped, digits are not
            mirror-symmetric.
        in_memory: keep the splits on the training device and batch there (no workers).
        num_workers: ``DataLoader`` worker processes when ``in_memory`` is false.
        seed: seed of the split; shuffling and augmentation follow ``seed_everything`` instead.
    """

    def __init__(
        self,
        batch_size: int = 64,
        scale: int = 2,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        augment: bool = True,
        in_memory: bool = True,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        require_at_least("scale", scale, 1)
        require_fraction("val_fraction", val_fraction)
        require_fraction("test_fraction", test_fraction)
        super().__init__(
            num_classes=DIGIT_CLASSES,
            in_channels=1,
            image_size=DIGIT_SIDE * scale,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
            in_memory=in_memory,
            augment=augment,
            crop_padding=scale,
            flip=False,
        )
        self.save_hyperparameters()
        self.scale = scale
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    def load_splits(self) -> Splits:
        images, labels = digit_images()
        pools = source_pools(labels, self.val_fraction, self.test_fraction, self.seed)
        enlarged = upsample(images, self.scale)

        def split(name: str) -> Split:
            ids = pools[name]
            return Split(torch.from_numpy(enlarged[ids])[:, None], torch.from_numpy(labels[ids]), torch.from_numpy(ids))

        return Splits(split("train"), split("val"), split("test"))
