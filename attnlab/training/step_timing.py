"""Seconds per training step of several designs, measured side by side so their ratio means something.

A cell's throughput (``cost/train_images_per_s``) is what that run paid, under whatever else the
machine was doing at the time; two cells' throughputs make no time overhead. Here every design's
model takes forward + backward + optimiser step on one batch of the study's input shape, the designs
take turns in one process on one device (the order rotated every round, so drifting load hits all
alike), and each design's time is its median over the rounds. On CPU a step that got less than
``MIN_OWN_CPU`` of a core while it ran (the process was descheduled: another process wanted the core)
is taken again, so a busy neighbour does not land on one design's time more than another's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from attnlab.modules.classifier import AttentionClassifier
from attnlab.training.config import build_model_and_data

ROUNDS = 15
WARMUP_ROUNDS = 3
MIN_OWN_CPU = 0.9  # CPU seconds of this process per wall second below which a CPU step was descheduled
MAX_ROUNDS = 4 * ROUNDS  # a machine too busy to give this many clean rounds keeps what it measured


def models_for_timing(args_by_name: Mapping[str, Sequence[str]]) -> tuple[dict[str, AttentionClassifier], int]:
    """The models that train configurations (``attnlab train`` arguments) describe, and the first one's batch size."""
    built = {name: build_model_and_data(args) for name, args in args_by_name.items()}
    batch_size = int(next(iter(built.values()))[1].batch_size)
    return {name: model for name, (model, _) in built.items()}, batch_size


def input_shape(model: AttentionClassifier) -> tuple[int, int, int]:
    """C, H, W of the images ``model`` trains on."""
    return model.in_channels, model.image_size, model.image_size


def time_steps(
    models: Mapping[str, AttentionClassifier],
    batch_size: int,
    device: torch.device,
    *,
    rounds: int = ROUNDS,
    warmup_rounds: int = WARMUP_ROUNDS,
) -> dict[str, float]:
    """Median seconds of one training step of every model, interleaved, over ``rounds`` clean steps after
    ``warmup_rounds``.

    All models take the same input shape. They are trained in place for a few steps: pass models you can spare.
    """
    first = next(iter(models.values()))
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch_size, *input_shape(first), generator=generator).to(device)
    labels = torch.randint(0, first.hparams.num_classes, (batch_size,), generator=generator).to(device)
    prepared = {}
    for name, model in models.items():
        model = model.to(device).train()
        prepared[name] = (model, model.optimizer_config.build(model.parameters()))
    names = list(prepared)
    clean: dict[str, list[float]] = {name: [] for name in names}
    every: dict[str, list[float]] = {name: [] for name in names}
    round_index = 0
    while min(map(len, clean.values())) < rounds and round_index < warmup_rounds + MAX_ROUNDS:
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, own_cpu = _timed_step(*prepared[name], images, labels, device)
            if round_index >= warmup_rounds:
                every[name].append(seconds)
                if (device.type != "cpu" or own_cpu >= MIN_OWN_CPU * seconds) and len(clean[name]) < rounds:
                    clean[name].append(seconds)
        round_index += 1
    # Each design's clean steps; on a machine too busy to give three, every step it took.
    return {name: statistics.median(clean[name] if len(clean[name]) >= 3 else every[name]) for name in names}


def _timed_step(
    model: AttentionClassifier,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
) -> tuple[float, float]:
    """Wall seconds of one training step, and the CPU seconds this process spent in them."""
    _synchronize(device)
    started, started_cpu = time.perf_counter(), time.process_time()
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(images), labels, label_smoothing=model.label_smoothing).backward()
    optimizer.step()
    _synchronize(device)
    return time.perf_counter() - started, time.process_time() - started_cpu


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
