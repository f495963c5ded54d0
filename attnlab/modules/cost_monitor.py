"""Logs what a design costs next to what it scores: params, GMACs, training throughput, peak memory.

Throughput is images per second over a whole training epoch (data loading included, all ranks
summed), the number a user pays in wall-clock time; the last epoch's value is the steady state.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from attnlab.modules.counting import count_cost


def peak_memory_mb(device: torch.device) -> float:
    """Peak allocated GPU memory on CUDA; peak resident memory of this process elsewhere."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class DesignCostMonitor(Callback):
    """Measures and logs ``cost/params``, ``cost/gmacs``, ``cost/train_images_per_s`` and ``cost/peak_memory_mb``."""

    def __init__(self) -> None:
        self.params: int | None = None
        self.macs: int | None = None
        self.train_images_per_s: float | None = None
        self.peak_memory_mb: float | None = None
        self._epoch_start = 0.0
        self._epoch_images = 0

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        size = pl_module.image_size
        cost = count_cost(pl_module.net, (pl_module.in_channels, size, size))
        self.params, self.macs = cost.params, cost.macs
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_images = 0
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._epoch_images += int(batch[1].shape[0])

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        elapsed = max(time.perf_counter() - self._epoch_start, 1e-9)
        self.train_images_per_s = self._epoch_images * trainer.world_size / elapsed
        self.peak_memory_mb = peak_memory_mb(pl_module.device)
        pl_module.log_dict(
            {
                "cost/params": float(self.params or 0),
                "cost/gmacs": (self.macs or 0) / 1e9,
                "cost/train_images_per_s": self.train_images_per_s,
                "cost/peak_memory_mb": self.peak_memory_mb,
            },
            rank_zero_only=True,
        )
