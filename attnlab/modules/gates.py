"""The two gates of the design space. Each returns its map BEFORE the sigmoid, so the caller decides how to combine.

Channel gate: ``Mc(F)``, shape N×C×1×1. Spatial gate: ``Ms(F)``, shape N×1×H×W, either CBAM's pooled maps + one
k×k conv (``pooled``) or BAM's 1×1 → dilated 3×3 → 1×1 bottleneck (``bottleneck``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from attnlab.modules import gate_ops
from attnlab.modules.design import AttentionDesign
from attnlab.modules.family_gates import AttentionPool, ChannelConv1d, CoordinateGate, EnergyGate, activation


def _lp_pool(x: Tensor) -> Tensor:
    """LP-pool with p=2 over the whole H×W map, as ``F.lp_pool2d(x, 2, (H, W))`` in the released CBAM code."""
    return torch.linalg.vector_norm(x, ord=2, dim=(2, 3))


def _lse_pool(x: Tensor) -> Tensor:
    """Log-sum-exp over H×W (the released code's ``logsumexp_2d``): a smooth maximum."""
    return torch.logsumexp(x.flatten(2), dim=2)


# Channel descriptors: N×C×H×W -> N×C, one value per channel.
CHANNEL_DESCRIPTORS: dict[str, Callable[[Tensor], Tensor]] = {
    "avg": lambda x: x.mean(dim=(2, 3)),
    "max": lambda x: x.amax(dim=(2, 3)),
    "lp": _lp_pool,
    "lse": _lse_pool,
}

# Spatial descriptors: N×C×H×W -> N×1×H×W, pooled across channels.
SPATIAL_DESCRIPTORS: dict[str, Callable[[Tensor], Tensor]] = {
    "avg": lambda x: x.mean(dim=1, keepdim=True),
    "max": lambda x: x.amax(dim=1, keepdim=True),
}


class ChannelGate(nn.Module):
    """``Mc(F)`` before the sigmoid: one MLP C → C/r → C shared by every pooled descriptor, outputs summed.

    The MLP runs on every descriptor (not on their sum; in one call, stacked along the batch, when exact), which is
    what the paper's equation says and what makes a MAC counter charge the MLP once per pool (the paper's GFLOPs).
    ``channel_merge='before'`` runs it once on the descriptors' mean instead (timm's light CBAM);
    ``channel_transform='conv1d'`` swaps the MLP for ECA's conv; ``channel_pool`` may include GC's ``attention``
    pooling.
    """

    def __init__(self, channels: int, design: AttentionDesign) -> None:
        super().__init__()
        self.pools: tuple[str, ...] = tuple(design.channel_pool)
        output_norm = design.channel_norm == "bn"
        self.merge_before = design.channel_merge == "before"
        self.attention_pool = AttentionPool(channels) if "attention" in self.pools else None
        if design.channel_transform == "conv1d":
            self.mlp: nn.Module = ChannelConv1d(channels, design)
        else:
            self.mlp = _channel_mlp(channels, design, output_norm)
        self.norm = nn.BatchNorm1d(channels) if output_norm else None

    def _descriptors(self, x: Tensor) -> list[Tensor]:
        formulas = CHANNEL_DESCRIPTORS
        if self.attention_pool is not None:
            formulas = {**CHANNEL_DESCRIPTORS, "attention": self.attention_pool}
        return gate_ops.pooled(x, self.pools, (2, 3), formulas, keepdim=False)

    def forward(self, x: Tensor) -> Tensor:
        descriptors = self._descriptors(x)
        if self.merge_before:  # timm's light CBAM: the transform runs once on the descriptors' mean
            logits = self.mlp(torch.stack(descriptors).mean(dim=0))
        else:
            logits = gate_ops.shared_mlp(self.mlp, descriptors)
        if self.norm is not None:
            logits = self.norm(logits)
        return logits[:, :, None, None]


def _channel_mlp(channels: int, design: AttentionDesign, output_norm: bool) -> nn.Sequential:
    """C -> hidden -> C with the design's hidden norm and activation.

    A bias right before a BN is cancelled by it (its gradient is exactly 0), so those Linears have none; a LayerNorm
    (GC) keeps the bias, which it does not cancel.
    """
    hidden = design.check_channels(channels)
    hidden_norm = design.mlp_hidden_norm
    norm: list[nn.Module] = []
    if hidden_norm == "bn":
        norm.append(nn.BatchNorm1d(hidden))
    elif hidden_norm == "ln":
        norm.append(nn.LayerNorm(hidden, eps=1e-6))  # timm's LayerNorm2d eps
    return nn.Sequential(
        nn.Linear(channels, hidden, bias=design.mlp_bias and hidden_norm != "bn"),
        *norm,
        activation(design),
        nn.Linear(hidden, channels, bias=design.mlp_bias and not output_norm),
    )


def build_channel_gate(channels: int, design: AttentionDesign) -> nn.Module:
    """The channel gate the design names: coordinate (``strip`` pool), SimAM (``energy``) or the MLP/ECA gate."""
    if design.channel_pool == ("strip",):
        return CoordinateGate(channels, design)
    if design.channel_transform == "energy":
        return EnergyGate(design)
    return ChannelGate(channels, design)


def _final_spatial_norm(design: AttentionDesign) -> nn.BatchNorm2d | None:
    """The BN on the 1-channel map; ``spatial_norm_zero_init`` is the released CBAM code's (momentum 0.01)."""
    if design.spatial_norm == "none":
        return None
    return nn.BatchNorm2d(1, momentum=0.01 if design.spatial_norm_zero_init else 0.1)


class SpatialGate(nn.Module):
    """Shared tail of both spatial branches: the branch ends in a conv to one map, then the optional final BN.

    The final conv has a bias only without the BN (the BN's shift replaces it). With ``spatial_norm_zero_init`` the
    BN's scale starts at 0 (set by :class:`~attnlab.modules.attention.Attention`), so the gate starts at σ(0) = 0.5.
    """

    norm: nn.BatchNorm2d | None

    def branch(self, x: Tensor) -> Tensor:
        """The N×1×H×W map before the final norm."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        logits = self.branch(x)
        return logits if self.norm is None else self.norm(logits)


class PooledSpatialGate(SpatialGate):
    """CBAM's ``Ms(F)``: channel-pooled maps concatenated in the design's order, then one k×k conv (padding k//2).

    ``spatial_pool=("conv1x1",)`` replaces pooling by a learned 1×1 conv C → 1 (paper Table 2); it has no bias since
    the k×k conv that follows has one (or is followed by a BN).
    """

    def __init__(self, channels: int, design: AttentionDesign) -> None:
        super().__init__()
        self.pools: tuple[str, ...] = tuple(design.spatial_pool)
        learned = self.pools == ("conv1x1",)
        self.merge_before = design.spatial_merge == "before"
        self.compress = nn.Conv2d(channels, 1, kernel_size=1, bias=False) if learned else None
        in_maps = 1 if learned or self.merge_before else len(self.pools)
        kernel_size = design.kernel_size
        self.conv = nn.Conv2d(in_maps, 1, kernel_size, padding=kernel_size // 2, bias=design.spatial_conv_bias)
        self.norm = _final_spatial_norm(design)

    def branch(self, x: Tensor) -> Tensor:
        if self.compress is not None:
            return gate_ops.spatial_conv(self.conv, self.compress(x))
        maps = gate_ops.pooled(x, self.pools, (1,), SPATIAL_DESCRIPTORS, keepdim=True)
        if self.merge_before:  # timm's light CBAM: one map, the mean of the pooled maps, into a 1-input conv
            # Plain conv: a 1-channel map has ambiguous strides, and oneDNN's channels_last backward mishandles them.
            return self.conv(torch.stack(maps).mean(dim=0))
        return gate_ops.spatial_conv(self.conv, torch.cat(maps, dim=1))


class BottleneckSpatialGate(SpatialGate):
    """BAM's ``Ms(F)``: 1×1 C → C/r, ``dilated_convs`` 3×3 convs with dilation d, 1×1 C/r → 1; BN + ReLU between."""

    def __init__(self, channels: int, design: AttentionDesign) -> None:
        super().__init__()
        hidden = design.check_channels(channels)
        layers: list[nn.Module] = [nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(True)]
        for _ in range(design.dilated_convs):
            dilated = nn.Conv2d(hidden, hidden, 3, padding=design.dilation, dilation=design.dilation, bias=False)
            layers += [dilated, nn.BatchNorm2d(hidden), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(hidden, 1, kernel_size=1, bias=design.spatial_conv_bias))
        self.body = nn.Sequential(*layers)
        self.norm = _final_spatial_norm(design)

    def branch(self, x: Tensor) -> Tensor:
        return self.body(x)


def build_spatial_gate(channels: int, design: AttentionDesign) -> SpatialGate:
    """The spatial branch the design names (``spatial_branch``)."""
    if design.spatial_branch == "bottleneck":
        return BottleneckSpatialGate(channels, design)
    return PooledSpatialGate(channels, design)
