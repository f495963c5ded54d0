"""Random images and labels of any shape: for tests and throughput measurement, where content is irrelevant."""

from __future__ import annotations

import torch

from attnlab.datamodules.base import TensorDataModule
from attnlab.datamodules.checks import require_at_least
from attnlab.datamodules.splits import Split, Splits


def random_split(count: int, shape: tuple[int, int, int], num_classes: int, generator: torch.Generator) -> Split:
    """``count`` uniform uint8 images of ``shape`` with uniform labels; ids are positions."""
    images = torch.randint(0, 256, (count, *shape), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, num_classes, (count,), generator=generator)
    return Split(images, labels, torch.arange(count))


class SyntheticDataModule(TensorDataModule):
    """Uniform random uint8 images with uniform random labels (nothing to learn), generated from ``seed``.

    Args:
        num_classes: number of label values.
        in_channels: image channels.
        image_size: side of the square images.
        num_samples: training samples.
        num_eval_samples: samples in each of the validation and test splits.
        batch_size: samples per batch (per process under DDP).
        in_memory: keep the splits on the training device and batch there (no workers), the way to
            measure model throughput without input-pipeline cost.
        num_workers: ``DataLoader`` worker processes when ``in_memory`` is false.
        seed: seed of the generated data.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
        num_samples: int = 1024,
        num_eval_samples: int = 256,
        batch_size: int = 64,
        in_memory: bool = True,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        for field, value in (
            ("num_classes", num_classes),
            ("in_channels", in_channels),
            ("image_size", image_size),
            ("num_samples", num_samples),
            ("num_eval_samples", num_eval_samples),
        ):
            require_at_least(field, value, 1)
        super().__init__(
            num_classes=num_classes,
            in_channels=in_channels,
            image_size=image_size,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
            in_memory=in_memory,
            augment=False,
            crop_padding=0,
            flip=False,
        )
        self.save_hyperparameters()
        self.num_samples = num_samples
        self.num_eval_samples = num_eval_samples

    def load_splits(self) -> Splits:
        generator = torch.Generator().manual_seed(self.seed)
        shape = (self.in_channels, self.image_size, self.image_size)
        train = random_split(self.num_samples, shape, self.num_classes, generator)
        val = random_split(self.num_eval_samples, shape, self.num_classes, generator)
        test = random_split(self.num_eval_samples, shape, self.num_classes, generator)
        return Splits(train, val, test)
