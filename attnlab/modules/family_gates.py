"""The pieces the families beside CBAM, BAM and SE add to the design space, each a value of an existing axis.

- ``AttentionPool`` (``channel_pool='attention'``, GC): a softmax over H×W from a 1×1 conv weighs the map's pixels.
- ``ChannelConv1d`` (``channel_transform='conv1d'``, ECA): a 1-D conv across the channel descriptor.
- ``CoordinateGate`` (``channel_pool='strip'``, coordinate attention): H and W strips, two direction-aware maps.
- ``EnergyGate`` (``channel_transform='energy'``, SimAM): a parameter-free energy per activation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from attnlab.modules.design import AttentionDesign


def activation(design: AttentionDesign) -> nn.Module:
    """The MLP's hidden activation: ReLU (SE, CBAM, BAM, GC) or hard-swish (coordinate attention)."""
    return nn.Hardswish() if design.mlp_activation == "hardswish" else nn.ReLU(inplace=True)


def eca_kernel_size(channels: int) -> int:
    """ECA's adaptive kernel ``|log2(C) + 1| / 2`` made odd, at least 3: timm's ``EcaModule`` rule (γ = 2, b = 1)."""
    t = int(abs(math.log(channels, 2) + 1) / 2)
    return max(t if t % 2 else t + 1, 3)


class AttentionPool(nn.Module):
    """GC's context: ``Σ_hw softmax_hw(conv1x1(F)) · F_hw``, N×C×H×W -> N×C (the 1×1 conv C -> 1 has a bias)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, kernel_size=1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal with fan_in, as GCNet and timm (fan_out of a 1-output conv would give std √2)."""
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="relu")
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        weights = torch.softmax(self.conv(x).flatten(2), dim=-1)  # N×1×HW
        return torch.matmul(x.flatten(2), weights.transpose(1, 2)).squeeze(-1)


class ChannelConv1d(nn.Module):
    """ECA's transform: one 1-D conv (no bias, zero padding k//2) sliding across the C channel descriptors."""

    def __init__(self, channels: int, design: AttentionDesign) -> None:
        super().__init__()
        size = design.channel_kernel_size
        kernel_size = eca_kernel_size(channels) if size == "adaptive" else int(size)
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, descriptor: Tensor) -> Tensor:
        return self.conv(descriptor[:, None, :])[:, 0, :]


class CoordinateGate(nn.Module):
    """Coordinate attention's map ``σ(a_h) ⊗ σ(a_w)``, AFTER its two sigmoids (the one gate that returns a map).

    The H strip (mean over W) and the W strip (mean over H) share one 1×1 conv C -> hidden (+ BN, activation);
    a 1×1 head per direction maps back to C. A bias before the BN is dropped (the BN cancels it).
    """

    def __init__(self, channels: int, design: AttentionDesign) -> None:
        super().__init__()
        hidden = design.check_channels(channels)
        hidden_norm = design.mlp_hidden_norm == "bn"
        self.reduce = nn.Conv2d(channels, hidden, kernel_size=1, bias=design.mlp_bias and not hidden_norm)
        self.norm = nn.BatchNorm2d(hidden) if hidden_norm else nn.Identity()
        self.act = activation(design)
        self.head_h = nn.Conv2d(hidden, channels, kernel_size=1, bias=design.mlp_bias)
        self.head_w = nn.Conv2d(hidden, channels, kernel_size=1, bias=design.mlp_bias)

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[2:]
        strips = torch.cat([x.mean(dim=3, keepdim=True), x.mean(dim=2, keepdim=True).transpose(2, 3)], dim=2)
        shared = self.act(self.norm(self.reduce(strips)))
        along_h, along_w = torch.split(shared, [height, width], dim=2)
        return torch.sigmoid(self.head_h(along_h)) * torch.sigmoid(self.head_w(along_w).transpose(2, 3))


class EnergyGate(nn.Module):
    """SimAM before its sigmoid: ``(x - μ)² / (4 (σ² + λ)) + 0.5`` per activation, μ and σ² per channel.

    σ² divides by n = H·W - 1 as the paper's code does; a 1×1 map (n = 0) uses n = 1, giving the constant 0.5.
    """

    def __init__(self, design: AttentionDesign) -> None:
        super().__init__()
        self.energy_lambda = float(design.energy_lambda)

    def forward(self, x: Tensor) -> Tensor:
        n = max(x.shape[2] * x.shape[3] - 1, 1)
        squared = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
        return squared / (4 * (squared.sum(dim=(2, 3), keepdim=True) / n + self.energy_lambda)) + 0.5

    def extra_repr(self) -> str:
        return f"energy_lambda={self.energy_lambda:g}"
