"""The LightningModule that trains any backbone + attention design as an image classifier.

Errors are logged in percent (``val/top1_err``, ``test/top5_err``), micro-averaged as the papers
report them, next to the design's cost (``cost/*``, from :class:`DesignCostMonitor`), so every run
answers "how accurate, at what price" on its own.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from attnlab.errors import ConfigError
from attnlab.modules.attention import Attention
from attnlab.modules.backbones import BackboneConfig
from attnlab.modules.cost_monitor import DesignCostMonitor
from attnlab.modules.design import AttentionDesign
from attnlab.modules.model import build_model
from attnlab.modules.optim import OptimizerConfig, SchedulerConfig
from attnlab.modules.validation import one_of
from attnlab.modules.weight_ema import AveragedWeights

STAGES = ("val", "test")
COMPILE_TARGETS = ("none", "attention", "model")
RANDOMNESS = ("common", "independent")


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite: the run cannot produce a meaningful result."""


def canonical_layout(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """The batch in exactly the requested memory layout.

    ``contiguous()`` keeps odd strides when they only differ on size-1 dims: a 1-channel batch
    made by permuting N×H×W×1 passes as contiguous yet looks channels-last to the conv kernels,
    and torch 2.13's CPU conv backward corrupts the heap on it. Re-striding such a batch is cheap.
    """
    if channels_last:
        return images.contiguous(memory_format=torch.channels_last)
    expected, step = [], 1
    for size in reversed(images.shape):
        expected.insert(0, step)
        step *= size
    return images if images.stride() == tuple(expected) else images.clone(memory_format=torch.contiguous_format)


def compile_network(net: nn.Module, target: str) -> None:
    """``torch.compile`` in place (module names and checkpoints unchanged): every attention module, or the whole net.

    Compiling happens at the first calls; :class:`DesignCostMonitor` reports that time as ``cost/compile_s`` and
    leaves it out of the throughput.
    """
    if target == "model":
        net.compile()
    elif target == "attention":
        for module in net.modules():
            if isinstance(module, Attention):
                module.compile()


def monitor_mode(metric: str) -> str:
    """``min`` for errors and losses, ``max`` for accuracies: what "better" means for a metric."""
    return "min" if metric.endswith(("err", "loss")) else "max"


class AttentionClassifier(L.LightningModule):
    """Image classifier: a backbone carrying an attention design, trained with cross-entropy.

    ``num_classes``, ``in_channels`` and ``image_size`` are linked from the datamodule by the CLI. ``compile``
    (``none``, ``attention`` or ``model``) runs the attention modules or the whole network through ``torch.compile``.

    ``randomness``: ``common`` (common random numbers) initialises the backbone from a stream of the run's seed
    (``seed_everything``, read as ``torch.initial_seed()``) and each attention module from its own, so every row of
    a study starts a seed from the same backbone weights and paired differences measure the design rather than the
    draw; ``independent`` draws everything from torch's global RNG in construction order, as before.

    ``ema_decay`` (e.g. 0.98): validate, checkpoint and test an exponential moving average of the weights, updated
    every step (:class:`~attnlab.modules.weight_ema.AveragedWeights`); None evaluates the weights as they are.
    """

    def __init__(
        self,
        backbone: BackboneConfig = BackboneConfig(),
        attention: AttentionDesign | None = None,
        optimizer: OptimizerConfig = OptimizerConfig(),
        scheduler: SchedulerConfig = SchedulerConfig(),
        label_smoothing: float = 0.0,
        ema_decay: float | None = None,
        monitor: str = "val/top1_err",
        channels_last: bool = False,
        compile: str = "none",
        randomness: Literal["common", "independent"] = "common",
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
    ) -> None:
        super().__init__()
        if not 0 <= label_smoothing < 1:
            raise ConfigError(f"model.label_smoothing: must be in [0, 1), got {label_smoothing}")
        valid_monitors = [f"val/{name}" for name in ("loss", "top1_err", "top5_err", "top1_acc", "top5_acc")]
        if monitor not in valid_monitors:
            raise ConfigError(f"model.monitor: {monitor!r} is not logged; use one of {', '.join(valid_monitors)}")
        one_of("model.compile", compile, COMPILE_TARGETS)
        one_of("model.randomness", randomness, RANDOMNESS)
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise ConfigError(f"model.ema_decay: {ema_decay} is not in (0, 1); e.g. 0.98 averages over ~50 steps")
        self.backbone = backbone
        # No default instance: its resolved fields would pin every preset to CBAM's values.
        self.attention = attention or AttentionDesign()
        self.optimizer_config = optimizer
        self.scheduler_config = scheduler
        self.label_smoothing = label_smoothing
        self.ema_decay = ema_decay
        self.monitor = monitor
        self.channels_last = channels_last
        self.randomness = randomness
        self.image_size = image_size
        self.in_channels = in_channels
        self.save_hyperparameters()
        init_seed = torch.initial_seed() if randomness == "common" else None
        self.net = build_model(self.backbone, self.attention, num_classes, in_channels, init_seed=init_seed)
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        compile_network(self.net, compile)
        top5 = min(5, num_classes)
        self.top1 = torch.nn.ModuleDict(
            {stage: MulticlassAccuracy(num_classes, top_k=1, average="micro") for stage in STAGES}
        )
        self.top5 = torch.nn.ModuleDict(
            {stage: MulticlassAccuracy(num_classes, top_k=top5, average="micro") for stage in STAGES}
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(canonical_layout(images, self.channels_last))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, labels = batch
        loss = F.cross_entropy(self(images), labels, label_smoothing=self.label_smoothing)
        if not torch.isfinite(loss):
            raise DivergedError(
                f"training loss is {loss.item()} at epoch {self.current_epoch}, step {self.global_step}"
            )
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=labels.shape[0])
        return loss

    def _evaluate(self, stage: str, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        self.log(f"{stage}/loss", loss, sync_dist=True, batch_size=labels.shape[0])
        self.top1[stage].update(logits, labels)
        self.top5[stage].update(logits, labels)

    def _log_accuracy(self, stage: str) -> None:
        """Top-1/top-5 accuracy and error in %, computed over the whole (all-rank) epoch."""
        for name, metric in (("top1", self.top1[stage]), ("top5", self.top5[stage])):
            accuracy = 100.0 * metric.compute()
            metric.reset()
            self.log(f"{stage}/{name}_acc", accuracy, prog_bar=(name == "top1"))
            self.log(f"{stage}/{name}_err", 100.0 - accuracy, prog_bar=(name == "top1"))

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate("val", batch)

    def on_validation_epoch_end(self) -> None:
        self._log_accuracy("val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate("test", batch)

    def on_test_epoch_end(self) -> None:
        self._log_accuracy("test")

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.optimizer_config.build(self.parameters())
        epochs = self.trainer.max_epochs if self.trainer.max_epochs and self.trainer.max_epochs > 0 else 1
        total_steps = self.trainer.estimated_stepping_batches  # infinite for max_epochs=-1 (train until stopped)
        if math.isinf(total_steps):  # schedules count epochs, so measure one from the training data
            if self.trainer.train_dataloader is None:
                self.trainer.fit_loop.setup_data()
            batches, accumulated = self.trainer.num_training_batches, self.trainer.accumulate_grad_batches
            steps_per_epoch = max(1, math.ceil(batches / accumulated))
        else:
            steps_per_epoch = max(1, int(total_steps) // epochs)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, self.scheduler_config.multiplier(steps_per_epoch, epochs)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def configure_callbacks(self) -> list[Callback]:
        """Best and last checkpoints on the monitored metric, the design's cost next to its accuracy, and the weights'
        moving average when ``ema_decay`` is set (validated, checkpointed and tested in place of the weights)."""
        checkpoint = ModelCheckpoint(
            monitor=self.monitor,
            mode=monitor_mode(self.monitor),
            save_last=True,
            save_top_k=1,
            filename="best-epoch{epoch:03d}",
            auto_insert_metric_name=False,
        )
        averaged = [] if self.ema_decay is None else [AveragedWeights(decay=self.ema_decay)]
        return [checkpoint, DesignCostMonitor(), *averaged]
