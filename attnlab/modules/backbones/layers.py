"""The conv-BN-ReLU unit of the plain (non-residual) backbones, with its attention site after the ReLU."""

from __future__ import annotations

from torch import nn


def conv_bn_relu(
    in_channels: int,
    out_channels: int,
    *,
    kernel_size: int = 3,
    stride: int = 1,
    groups: int = 1,
    bias: bool = False,
    attention: nn.Module | None = None,
) -> list[nn.Module]:
    """Conv (padding ``kernel_size // 2``), BN, ReLU, then ``attention`` on the unit's output when given."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=bias)
    unit: list[nn.Module] = [conv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    return unit if attention is None else [*unit, attention]
