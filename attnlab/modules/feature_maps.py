"""The feature maps a model's spatial gates see, found by one forward pass on the meta device (no compute, no memory).

Why: a spatial gate's k×k kernel wider than every map it is applied to only ever multiplies its own
zero padding at the edges; ``kernel_size`` is checked against the widest of those maps before any
training starts (the image size and the backbone's stages decide them, so they are measured, not guessed).
"""

from __future__ import annotations

import torch
from torch import nn

from attnlab.errors import ConfigError
from attnlab.modules.gates import PooledSpatialGate


def spatial_gate_sides(model: nn.Module, in_channels: int, image_size: int) -> list[int]:
    """The side (the larger of height and width) of every feature map entering a k×k spatial gate, in call order."""
    gates = [module for module in model.modules() if isinstance(module, PooledSpatialGate)]
    if not gates:
        return []
    sides: list[int] = []
    hooks = [
        gate.register_forward_pre_hook(lambda _, inputs: sides.append(max(inputs[0].shape[-2:]))) for gate in gates
    ]
    try:
        with torch.device("meta"), torch.no_grad():
            model.to("meta")(torch.zeros(2, in_channels, image_size, image_size))
    finally:
        for hook in hooks:
            hook.remove()
    return sides


def check_spatial_kernel(kernel_size: int, model: nn.Module, in_channels: int, image_size: int) -> None:
    """Refuses a spatial-gate kernel wider than the widest feature map any of its gates sees, in one line."""
    sides = spatial_gate_sides(model, in_channels, image_size)
    if sides and kernel_size > max(sides):
        widest = max(sides)
        valid = widest if widest % 2 else widest - 1
        raise ConfigError(
            f"model.attention.kernel_size: {kernel_size} is wider than every feature map its spatial gates see (the "
            f"widest is {widest}×{widest} with image size {image_size}, the smallest {min(sides)}×{min(sides)}); "
            f"use an odd size from 1 to {valid}"
        )
