"""Exactly-once sharding of one epoch's samples over DDP ranks, with the same number of batches on every rank.

``DistributedSampler`` pads with repeated samples (or drops some) so every rank sees the same count;
that double-counts samples in validation metrics and skips some in training. Here every sample goes to
exactly one batch of one rank, and batch sizes vary by at most one instead: ranks still step in
lockstep, which DDP's gradient all-reduce needs, and synced metrics count every sample once.
"""

from __future__ import annotations

import math

import torch

from attnlab.errors import ConfigError


def batches_per_rank(num_samples: int, world_size: int, batch_size: int) -> int:
    """How many batches each rank iterates: enough for the largest shard at ``batch_size`` or fewer samples."""
    return math.ceil(math.ceil(num_samples / world_size) / batch_size)


def require_shardable(num_samples: int, world_size: int, batch_size: int) -> None:
    """Fail before training when some rank would get an empty batch (only batch_size 1 with uneven shards)."""
    if num_samples // world_size < batches_per_rank(num_samples, world_size, batch_size):
        raise ConfigError(
            f"data.batch_size: {batch_size} cannot spread {num_samples} samples over {world_size} ranks in equal "
            f"numbers of non-empty batches; valid: batch_size >= 2 and at least {world_size} samples per split"
        )


def shard_batches(order: torch.Tensor, rank: int, world_size: int, batch_size: int) -> list[torch.Tensor]:
    """This rank's batches of sample indices from ``order`` (every index of one epoch, in iteration order).

    ``order`` is cut into ``world_size`` contiguous shards whose sizes differ by at most one, and each
    shard into ``batches_per_rank`` batches whose sizes differ by at most one.
    """
    shard = torch.tensor_split(order, world_size)[rank]
    return list(torch.tensor_split(shard, batches_per_rank(len(order), world_size, batch_size)))
