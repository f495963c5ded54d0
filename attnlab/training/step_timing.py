"""Seconds per training step of several designs, measured side by side so their ratio means something.

A cell's throughput (``cost/train_images_per_s``) is what that run paid, under whatever else the
machine was doing at the time; two cells' throughputs make no time overhead. Here every design's
model takes forward + backward + optimiser step on one batch of the study's input shape, the designs
take turns in one process on one device (the order rotated every round, so drifting load hits all
alike), and each design's time is its median over the rounds.
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
    """Median seconds of one training step of every model, interleaved, over ``rounds`` after ``warmup_rounds``.

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
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup_rounds + rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            model, optimizer = prepared[name]
            _synchronize(device)
            started = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(images), labels, label_smoothing=model.label_smoothing).backward()
            optimizer.step()
            _synchronize(device)
            if round_index >= warmup_rounds:
                samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(times) for name, times in samples.items()}


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
