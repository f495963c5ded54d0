"""Optimiser and learning-rate schedule of a training run, as validated config records.

The schedule is one per-step multiplier (warm-up, then step / multistep / cosine by epoch
fraction), so a run resumed mid-epoch from a checkpoint continues on exactly the same curve.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import torch

from attnlab.errors import ConfigError
from attnlab.modules.validation import one_of


@dataclass(frozen=True)
class OptimizerConfig:
    """SGD (momentum, optional Nesterov) as in the papers, or AdamW as in the CIFAR-100 VGG report."""

    name: Literal["sgd", "adamw"] = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4

    def __post_init__(self) -> None:
        one_of("model.optimizer.name", self.name, ("sgd", "adamw"))
        if not self.lr > 0:
            raise ConfigError(f"model.optimizer.lr: must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"model.optimizer.momentum: must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ConfigError(f"model.optimizer.weight_decay: must be >= 0, got {self.weight_decay}")
        if self.nesterov and (self.name != "sgd" or self.momentum == 0):
            raise ConfigError("model.optimizer.nesterov: needs name='sgd' and a momentum > 0")

    def build(self, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        if self.name == "sgd":
            return torch.optim.SGD(
                parameters,
                lr=self.lr,
                momentum=self.momentum,
                nesterov=self.nesterov,
                weight_decay=self.weight_decay,
            )
        return torch.optim.AdamW(parameters, lr=self.lr, weight_decay=self.weight_decay)


@dataclass(frozen=True)
class SchedulerConfig:
    """Learning-rate schedule by epoch (fractional, stepped every batch) with an optional linear warm-up."""

    name: Literal["none", "step", "multistep", "cosine"] = "cosine"
    warmup_epochs: float = 0.0
    step_size: int = 30
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    min_lr_ratio: float = 0.0

    def __post_init__(self) -> None:
        one_of("model.scheduler.name", self.name, ("none", "step", "multistep", "cosine"))
        if self.warmup_epochs < 0:
            raise ConfigError(f"model.scheduler.warmup_epochs: must be >= 0, got {self.warmup_epochs}")
        if self.step_size < 1:
            raise ConfigError(f"model.scheduler.step_size: must be >= 1, got {self.step_size}")
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"model.scheduler.gamma: must be in (0, 1], got {self.gamma}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"model.scheduler.min_lr_ratio: must be in [0, 1], got {self.min_lr_ratio}")
        if self.name == "multistep" and not self.milestones:
            raise ConfigError("model.scheduler.milestones: multistep needs at least one epoch, e.g. [30, 60, 80]")

    def multiplier(self, steps_per_epoch: int, total_epochs: int) -> Callable[[int], float]:
        """The factor on the base learning rate after ``step`` optimiser steps."""

        def factor(step: int) -> float:
            epoch = step / steps_per_epoch
            warmup = min(1.0, (step + 1) / (self.warmup_epochs * steps_per_epoch)) if self.warmup_epochs else 1.0
            if self.name == "step":
                decay = self.gamma ** int(epoch // self.step_size)
            elif self.name == "multistep":
                decay = self.gamma ** sum(1 for milestone in self.milestones if epoch >= milestone)
            elif self.name == "cosine":
                progress = min(
                    1.0, max(0.0, (epoch - self.warmup_epochs) / max(1e-8, total_epochs - self.warmup_epochs))
                )
                decay = self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
            else:
                decay = 1.0
            return warmup * decay

        return factor
