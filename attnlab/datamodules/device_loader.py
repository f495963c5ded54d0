"""Batches drawn from a split that already lives on the training device: no workers, no host-to-device copy.

For datasets that fit in device memory (digits, CIFAR), per-step cost is a gather plus batched
augmentation on the device. Under DDP each rank iterates its own shard of one permutation that all
ranks derive from ``(seed, epoch)``, so together they see every sample exactly once per epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from attnlab.datamodules.batch_transforms import BatchTransform
from attnlab.datamodules.sharding import batches_per_rank, require_shardable, shard_batches
from attnlab.datamodules.splits import Split


def derived_seed(*entropy: int) -> int:
    """A 63-bit seed mixed from several integers, so nearby (seed, epoch, rank) give unrelated streams."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(2, dtype=np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True, kw_only=True, eq=False)  # eq would compare tensors
class DeviceBatchLoader:
    """Iterable of ``(images, labels)`` batches over one device-resident split, sharded over ranks.

    ``epoch_source`` is read at the start of every iteration (the datamodule passes the trainer's
    current epoch), so the shuffle and the augmentation change every epoch and are reproducible.
    Augmentation draws depend on the rank too; the permutation does not, so ranks agree on the shards.
    ``epoch_split``, when given, replaces the split each epoch by one of the same size (a generator's fresh
    samples: the model never sees a sample twice, so which samples it saw stops being part of the noise).
    """

    split: Split
    batch_size: int
    transform: BatchTransform
    shuffle: bool
    seed: int
    rank: int
    world_size: int
    epoch_source: Callable[[], int]
    epoch_split: Callable[[int], Split] | None = None

    def __post_init__(self) -> None:
        require_shardable(len(self.split), self.world_size, self.batch_size)

    def __len__(self) -> int:
        return batches_per_rank(len(self.split), self.world_size, self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch = self.epoch_source()
        split = self.split if self.epoch_split is None else self.epoch_split(epoch)
        count = len(split)
        if self.shuffle:
            order = torch.randperm(count, generator=torch.Generator().manual_seed(derived_seed(self.seed, epoch)))
        else:
            order = torch.arange(count)
        device = self.split.labels.device
        split = split.to(device)
        augment = torch.Generator(device=device).manual_seed(derived_seed(self.seed, epoch, self.rank))
        for indices in shard_batches(order, self.rank, self.world_size, self.batch_size):
            on_device = indices.to(device)
            yield self.transform(split.images[on_device], augment), split.labels[on_device]
