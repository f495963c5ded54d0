"""Logs what a design costs next to what it scores: params, GMACs, training throughput, peak memory.

Throughput is images per second over a whole training epoch (data loading included, all ranks
summed), the number a user pays in wall-clock time; the last epoch's value is the steady state.
Batches during which ``torch.compile`` compiled (``model.compile``) are left out of it and their time
is logged on its own as ``cost/compile_s``, so a compiled run's cost column shows its running speed.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from attnlab.modules.counting import count_cost


def dynamo_seconds() -> float:
    """A clock that moves only while ``torch.compile`` compiles (its own timings summed); 0 if it never ran."""
    if "torch._dynamo" not in sys.modules:
        return 0.0
    from torch._dynamo.utils import compilation_time_metrics

    return sum(sum(times) for times in compilation_time_metrics.values())


def peak_memory_mb(device: torch.device) -> float:
    """Peak allocated GPU memory on CUDA; peak resident memory of this process elsewhere."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class DesignCostMonitor(Callback):
    """Measures and logs ``cost/params``, ``cost/gmacs``, ``cost/train_images_per_s``, ``cost/peak_memory_mb`` and
    ``cost/compile_s``."""

    def __init__(self) -> None:
        self.params: int | None = None
        self.macs: int | None = None
        self.train_images_per_s: float | None = None
        self.peak_memory_mb: float | None = None
        self.compile_s = 0.0
        self._epoch_start = 0.0
        self._epoch_images = 0
        self._epoch_compile_s = 0.0
        self._epoch_compiled_images = 0
        self._batch_start = 0.0
        self._dynamo_at_batch_start = 0.0

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        size = pl_module.image_size
        with torch.compiler.set_stance("force_eager"):  # counting is not worth a compile
            cost = count_cost(pl_module.net, (pl_module.in_channels, size, size))
        self.params, self.macs = cost.params, cost.macs
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)

    def _start_batch(self, *_: Any) -> None:
        self._batch_start = time.perf_counter()
        self._dynamo_at_batch_start = dynamo_seconds()

    def _compile_time_of_batch(self) -> float:
        """The batch's wall time if ``torch.compile`` compiled during it, else 0; added to ``compile_s``."""
        if dynamo_seconds() == self._dynamo_at_batch_start:
            return 0.0
        spent = time.perf_counter() - self._batch_start
        self.compile_s += spent
        return spent

    on_train_batch_start = on_validation_batch_start = on_test_batch_start = _start_batch

    def on_validation_batch_end(self, *_: Any) -> None:
        self._compile_time_of_batch()

    on_test_batch_end = on_validation_batch_end

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_images = self._epoch_compiled_images = 0
        self._epoch_compile_s = 0.0
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        compiling = self._compile_time_of_batch()
        self._epoch_compile_s += compiling
        images = int(batch[1].shape[0])
        self._epoch_images += images
        self._epoch_compiled_images += images if compiling else 0

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        elapsed = time.perf_counter() - self._epoch_start
        images = self._epoch_images
        if images > self._epoch_compiled_images:  # an epoch that only compiled keeps its whole time
            elapsed, images = elapsed - self._epoch_compile_s, images - self._epoch_compiled_images
        self.train_images_per_s = images * trainer.world_size / max(elapsed, 1e-9)
        self.peak_memory_mb = peak_memory_mb(pl_module.device)
        pl_module.log_dict(
            {
                "cost/params": float(self.params or 0),
                "cost/gmacs": (self.macs or 0) / 1e9,
                "cost/train_images_per_s": self.train_images_per_s,
                "cost/peak_memory_mb": self.peak_memory_mb,
                "cost/compile_s": self.compile_s,
            },
            rank_zero_only=True,
        )
