"""One attention module for every point of the design space, and the builder that drops it into any CNN.

``build_attention(design, channels)`` is the only place a design becomes a module: the backbones, the studies and a
user's own network all go through it, so a field means the same thing everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from attnlab.errors import ConfigError
from attnlab.modules.design import AttentionDesign
from attnlab.modules.family_gates import AttentionPool, CoordinateGate
from attnlab.modules.gates import ChannelGate, SpatialGate, build_channel_gate, build_spatial_gate
from attnlab.modules.validation import positive_int

# How a parallel pair of pre-sigmoid maps (N×C×1×1 and N×1×H×W) becomes one N×C×H×W map (BAM's ablation).
COMBINE: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "sum": torch.add,
    "product": torch.mul,
    "max": torch.maximum,
}


def _init_gate_module(module: nn.Module) -> None:
    """The released code's init: convs kaiming-normal (fan_out), norms 1/0, linear weights default, biases 0."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    elif isinstance(module, nn.Linear):
        module.reset_parameters()
    elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        nn.init.ones_(module.weight)
    else:
        return
    if module.bias is not None:
        nn.init.zeros_(module.bias)


class Attention(nn.Module):
    """A channel gate and/or a spatial gate, arranged and combined as the design says.

    - ``channel_first``: ``F' = σ(Mc(F)) ⊗ F``, ``F'' = σ(Ms(F')) ⊗ F'``; ``spatial_first`` the reverse.
    - ``parallel``: ``F ⊗ σ(combine(Mc(F), Ms(F)))``, both maps broadcast to C×H×W (BAM).
    - ``residual``: the output is ``F + (the above)``, i.e. BAM's ``F + F ⊗ M(F)``.
    - ``apply='add'``: a sequential gate adds its map, ``F + M(F)`` (GC), instead of multiplying by its sigmoid.
    """

    def __init__(self, design: AttentionDesign, channels: int) -> None:
        super().__init__()
        if design.is_identity:
            raise ConfigError("attention.channel, attention.spatial: both are off; build_attention gives nn.Identity")
        self.design = design
        self.channels = positive_int("channels", channels, " (the input's C)")
        self.channel_gate: nn.Module | None = build_channel_gate(channels, design) if design.channel else None
        self.spatial_gate: SpatialGate | None = build_spatial_gate(channels, design) if design.spatial else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise every gate; with ``spatial_norm_zero_init`` the spatial BN's scale starts at 0."""
        for module in self.modules():
            if module is not self:
                _init_gate_module(module)
        if self.design.spatial_norm_zero_init and self.spatial_gate is not None and self.spatial_gate.norm is not None:
            nn.init.zeros_(self.spatial_gate.norm.weight)
        for module in self.modules():
            if isinstance(module, AttentionPool):
                module.reset_parameters()
        gate = self.channel_gate
        if self.design.apply == "add" and isinstance(gate, ChannelGate) and isinstance(gate.mlp, nn.Sequential):
            nn.init.zeros_(gate.mlp[-1].weight)  # GCNet: an added context starts at 0, the block as the identity

    def _gates_in_order(self) -> list[nn.Module]:
        gates = [self.channel_gate, self.spatial_gate]
        if self.design.arrangement == "spatial_first":
            gates.reverse()
        return [gate for gate in gates if gate is not None]

    def forward(self, x: Tensor) -> Tensor:
        gates = self._gates_in_order()
        if self.design.arrangement == "parallel":
            logits = functools.reduce(COMBINE[self.design.combine], [gate(x) for gate in gates])
            attended = x * torch.sigmoid(logits)
        else:
            attended = x
            for gate in gates:
                attended = self._gated(gate, attended)
        return x + attended if self.design.residual else attended

    def _gated(self, gate: nn.Module, x: Tensor) -> Tensor:
        """One gate in sequence: ``x ⊗ σ(M(x))``, or ``x + M(x)`` with ``apply='add'`` (GC)."""
        if isinstance(gate, CoordinateGate):  # its two maps went through their own sigmoids
            return x * gate(x)
        if self.design.apply == "add":
            return x + gate(x)
        return x * torch.sigmoid(gate(x))

    def extra_repr(self) -> str:
        design = self.design
        combine = f", combine={design.combine}" if design.arrangement == "parallel" else ""
        return (
            f"type={design.type}, channels={self.channels}, {design.arrangement}{combine}, residual={design.residual}"
        )


def build_attention(design: AttentionDesign, channels: int) -> nn.Module:
    """The module for ``design`` on a ``channels``-channel map; ``nn.Identity`` when the design adds nothing."""
    positive_int("channels", channels, " (the input's C)")
    return nn.Identity() if design.is_identity else Attention(design, channels)


class _PresetAttention(Attention):
    """An :class:`Attention` whose design starts from a preset; keyword arguments override any field."""

    preset: ClassVar[str]

    def __init__(self, channels: int, **fields: Any) -> None:
        super().__init__(AttentionDesign.from_mapping({"type": self.preset, **fields}), channels)


class SE(_PresetAttention):
    """Squeeze-and-excitation (Hu et al.): the channel gate with average pooling only."""

    preset = "se"


class CBAM(_PresetAttention):
    """CBAM as in the paper: channel gate (avg + max) then spatial gate (7×7 conv on [avg; max])."""

    preset = "cbam"


class BAM(_PresetAttention):
    """BAM as in the paper: ``F + F ⊗ σ(BN(MLP(avg)) + BN(dilated bottleneck))``."""

    preset = "bam"
