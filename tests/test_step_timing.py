"""Side-by-side step timing on CPU: a step during which the process lost its core is taken again."""

from __future__ import annotations

import itertools

import pytest
import torch

from attnlab.modules.backbones import BackboneConfig
from attnlab.modules.classifier import AttentionClassifier
from attnlab.modules.design import AttentionDesign
from attnlab.training import step_timing


def _models() -> dict[str, AttentionClassifier]:
    backbone = BackboneConfig(name="resnet18", stem="cifar", width=0.25)
    return {
        name: AttentionClassifier(backbone=backbone, attention=AttentionDesign(type=name), in_channels=1, image_size=8)
        for name in ("none", "cbam")
    }


def test_a_descheduled_step_is_retaken_and_never_lands_in_the_median(monkeypatch: pytest.MonkeyPatch) -> None:
    # cbam's steps take 1.5 s of a whole core; every third of its steps the process also waits 10 s off its core.
    cbam_steps = itertools.cycle([(1.5, 1.5), (1.5, 1.5), (11.5, 1.5)])

    def scripted(model: AttentionClassifier, *_: object) -> tuple[float, float]:
        return next(cbam_steps) if model.attention.type == "cbam" else (1.0, 1.0)

    monkeypatch.setattr(step_timing, "_timed_step", scripted)
    seconds = step_timing.time_steps(_models(), 4, torch.device("cpu"), rounds=5, warmup_rounds=1)
    assert seconds == {"none": 1.0, "cbam": 1.5}


def test_a_machine_too_busy_for_three_clean_steps_keeps_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(step_timing, "_timed_step", lambda *_: (2.0, 0.5))  # always a quarter of a core
    seconds = step_timing.time_steps(_models(), 4, torch.device("cpu"), rounds=5, warmup_rounds=1)
    assert seconds == {"none": 2.0, "cbam": 2.0}
