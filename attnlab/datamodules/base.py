"""What every attnlab datamodule shares, and the base of those whose splits fit in memory as tensors.

Subclasses set ``num_classes``, ``in_channels`` and ``image_size`` in ``__init__`` (the train CLI links
them into the model config before any data is read) and load nothing there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from attnlab.datamodules.batch_transforms import BatchTransform, TransformingCollate, to_unit_range
from attnlab.datamodules.checks import require_at_least
from attnlab.datamodules.device_loader import DeviceBatchLoader, derived_seed
from attnlab.datamodules.samples import ShownSamples, check_split, seeded_indices
from attnlab.datamodules.splits import Split, Splits

Statistics = tuple[tuple[float, ...], tuple[float, ...]]


class AttnlabDataModule(pl.LightningDataModule):
    """Shape attributes for the model, batch and worker settings, and where the trainer runs us."""

    def __init__(
        self, *, num_classes: int, in_channels: int, image_size: int, batch_size: int, num_workers: int, seed: int
    ) -> None:
        super().__init__()
        require_at_least("batch_size", batch_size, 1)
        require_at_least("num_workers", num_workers, 0)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.image_size = image_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed

    def training_device(self) -> torch.device:
        """The device this process trains on (CPU when used without a trainer)."""
        return self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")

    def rank_and_world_size(self) -> tuple[int, int]:
        """This process's global rank and the number of processes sharing each epoch."""
        return (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)

    def current_epoch(self) -> int:
        """The trainer's epoch (0 without a trainer), which seeds per-epoch shuffling and augmentation."""
        return self.trainer.current_epoch if self.trainer is not None else 0

    @staticmethod
    def run_seed() -> int:
        """The run's ``seed_everything`` seed (Lightning exports it to every DDP process), 0 if none was set.

        Shuffling and augmentation follow it, so seed replicates of a study differ in training order,
        while the datamodule's own ``seed`` keeps the data and its splits the same for every replicate.
        """
        return int(os.environ.get("PL_GLOBAL_SEED", "0"))

    def loader_generator(self) -> torch.Generator:
        """The generator of a loader's order (and of its workers' seeds, hence their augmentation draws).

        Seeded from the run's seed and rank alone, never from torch's global RNG, which the model's init may
        have consumed: every row of a study sees the same batches in the same order for one seed.
        """
        rank, _ = self.rank_and_world_size()
        return torch.Generator().manual_seed(derived_seed(self.run_seed(), rank))

    def data_loader(
        self, dataset: Dataset, *, shuffle: bool, collate_fn: Callable[[list[Any]], Any] | None = None
    ) -> DataLoader:
        """A worker-backed loader; under DDP Lightning gives it a ``DistributedSampler``."""
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=collate_fn,
            persistent_workers=self.num_workers > 0,
            pin_memory=self.training_device().type == "cuda",
            generator=self.loader_generator(),
        )


class TensorDataModule(AttnlabDataModule):
    """Base of datamodules whose three splits are tensors in memory (digits, cluttered digits, CIFAR, synthetic).

    With ``in_memory`` the splits are copied once to the training device and batches are gathered and
    augmented there (``DeviceBatchLoader``: exactly-once DDP sharding, no workers); otherwise a
    ``DataLoader`` with ``num_workers`` workers applies the same batch transform in its ``collate_fn``.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int,
        image_size: int,
        batch_size: int,
        num_workers: int,
        seed: int,
        in_memory: bool,
        augment: bool,
        crop_padding: int,
        flip: bool,
    ) -> None:
        super().__init__(
            num_classes=num_classes,
            in_channels=in_channels,
            image_size=image_size,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
        )
        self.in_memory = in_memory
        self.augment = augment
        self._crop_padding = crop_padding if augment else 0
        self._flip = flip and augment
        self._splits: Splits | None = None
        self._train_transform: BatchTransform | None = None
        self._device_copies: dict[tuple[str, torch.device], Split] = {}

    def load_splits(self) -> Splits:
        """Read or generate the three splits (called once, from ``setup``); every subclass provides it."""
        raise NotImplementedError(f"{type(self).__name__} must implement load_splits()")

    def fresh_train_split(self) -> Callable[[int], Split] | None:
        """Epoch -> that epoch's own training samples, for a datamodule that generates them; None: the stored split
        every epoch (the default)."""
        return None

    def normalisation(self, train: Split) -> Statistics:
        """Per-channel (mean, std) for normalising; by default measured on the training split only."""
        return channel_statistics(train.images)

    def setup(self, stage: str | None = None) -> None:
        if self._splits is None:
            splits = self.load_splits()
            mean, std = self.normalisation(splits.train)
            self._splits = splits
            self._train_transform = BatchTransform(mean, std, self._crop_padding, self._flip)

    @property
    def splits(self) -> Splits:
        """The loaded splits; ``setup()`` must have run."""
        if self._splits is None:
            raise RuntimeError(f"{type(self).__name__}.setup() must run before its splits are used")
        return self._splits

    def train_dataloader(self) -> DeviceBatchLoader | DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DeviceBatchLoader | DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DeviceBatchLoader | DataLoader:
        return self._loader("test")

    def _loader(self, name: str) -> DeviceBatchLoader | DataLoader:
        split = self.splits.by_name(name)
        assert self._train_transform is not None  # set together with the splits
        training = name == "train"
        transform = self._train_transform if training else self._train_transform.deterministic()
        if not self.in_memory:
            dataset = TensorDataset(split.images, split.labels)
            # Workers draw augmentation from their own RNG, seeded from the loader's generator; in this process
            # the collate draws from a generator of its own.
            augment = None if self.num_workers > 0 else self.loader_generator()
            return self.data_loader(dataset, shuffle=training, collate_fn=TransformingCollate(transform, augment))
        rank, world_size = self.rank_and_world_size()
        return DeviceBatchLoader(
            split=self._on_device(name, split),
            batch_size=self.batch_size,
            transform=transform,
            shuffle=training,
            seed=self.run_seed(),
            rank=rank,
            world_size=world_size,
            epoch_source=self.current_epoch,
            epoch_split=self.fresh_train_split() if training else None,
        )

    def shown_samples(self, name: str, count: int, seed: int) -> ShownSamples:
        """``count`` samples of split ``name`` picked by ``seed``, normalised as for testing, with their boxes."""
        check_split(name)
        self.setup("test")
        split = self.splits.by_name(name)
        assert self._train_transform is not None  # set together with the splits
        indices = seeded_indices(len(split), count, seed)
        stored = split.images[torch.from_numpy(indices)]
        boxes = None if split.boxes is None else tuple((tuple(box),) for box in split.boxes[indices].tolist())
        return ShownSamples(
            inputs=self._train_transform.deterministic()(stored),
            pictures=to_unit_range(stored),
            labels=split.labels[torch.from_numpy(indices)],
            indices=tuple(indices.tolist()),
            boxes=boxes,
        )

    def _on_device(self, name: str, split: Split) -> Split:
        device = self.training_device()
        if (name, device) not in self._device_copies:
            self._device_copies[name, device] = split.to(device)
        return self._device_copies[name, device]


def channel_statistics(images: torch.Tensor, elements_per_chunk: int = 1 << 24) -> Statistics:
    """Per-channel mean and standard deviation of images in unit range, in float64 chunks (bounded memory)."""
    channels = images.shape[1]
    chunk = max(1, elements_per_chunk // max(1, images[0].numel()))
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    for start in range(0, images.shape[0], chunk):
        block = to_unit_range(images[start : start + chunk]).double().transpose(0, 1).reshape(channels, -1)
        total += block.sum(dim=1)
        squares += block.square().sum(dim=1)
    count = images.numel() / channels
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(1e-12).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())
