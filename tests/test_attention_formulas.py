"""The gates compute the papers' equations: hand-set weights, small tensors, the formula written out in numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnlab.modules import Attention, AttentionDesign, build_attention


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _conv2d_one_map(maps: np.ndarray, weight: np.ndarray, bias: float, dilation: int = 1) -> np.ndarray:
    """Cross-correlation of (M, H, W) maps with an (M, k, k) kernel to one (H, W) map, zero 'same' padding."""
    k = weight.shape[-1]
    pad = dilation * (k // 2)
    padded = np.pad(maps, ((0, 0), (pad, pad), (pad, pad)))
    height, width = maps.shape[1:]
    out = np.full((height, width), bias, dtype=np.float64)
    for i in range(k):
        for j in range(k):
            window = padded[:, i * dilation : i * dilation + height, j * dilation : j * dilation + width]
            out += np.einsum("mhw,m->hw", window, weight[:, i, j])
    return out


def _mlp(vector: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> np.ndarray:
    return w2 @ np.maximum(w1 @ vector + b1, 0.0) + b2


@pytest.fixture
def feature_map() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(1, 4, 5, 5, generator=generator, dtype=torch.float64)


def _set_mlp(attention: Attention) -> tuple[np.ndarray, ...]:
    """Hand-chosen MLP weights 4 -> 2 -> 4, written into the gate; returns them as numpy arrays."""
    w1 = np.array([[0.5, -0.25, 0.75, 0.1], [-0.6, 0.3, 0.2, 0.4]])
    b1 = np.array([0.05, -0.1])
    w2 = np.array([[0.7, -0.2], [0.1, 0.9], [-0.5, 0.4], [0.3, 0.3]])
    b2 = np.array([0.02, -0.03, 0.04, 0.0])
    mlp = attention.channel_gate.mlp
    with torch.no_grad():
        mlp[0].weight.copy_(torch.from_numpy(w1))
        mlp[0].bias.copy_(torch.from_numpy(b1))
        mlp[-1].weight.copy_(torch.from_numpy(w2))
        mlp[-1].bias.copy_(torch.from_numpy(b2))
    return w1, b1, w2, b2


def _descriptor(x: np.ndarray, pool: str) -> np.ndarray:
    flat = x.reshape(x.shape[0], -1)
    return {
        "avg": flat.mean(axis=1),
        "max": flat.max(axis=1),
        "lp": np.sqrt((flat**2).sum(axis=1)),
        "lse": np.log(np.exp(flat).sum(axis=1)),
    }[pool]


@pytest.mark.parametrize("pools", [("avg", "max"), ("avg",), ("max",), ("lp",), ("lse",), ("avg", "max", "lp", "lse")])
def test_channel_gate_is_sigmoid_of_summed_shared_mlp(feature_map: torch.Tensor, pools: tuple[str, ...]) -> None:
    design = AttentionDesign(type="cbam", spatial=False, reduction=2, channel_pool=pools)
    attention = build_attention(design, 4).double()
    w1, b1, w2, b2 = _set_mlp(attention)
    x = feature_map[0].numpy()
    logits = sum(_mlp(_descriptor(x, pool), w1, b1, w2, b2) for pool in pools)
    expected = x * _sigmoid(logits)[:, None, None]
    np.testing.assert_allclose(attention(feature_map)[0].detach().numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("pools", [("avg", "max"), ("max", "avg"), ("max",)])
def test_pooled_spatial_gate_is_sigmoid_of_conv_on_channel_pools(
    feature_map: torch.Tensor, pools: tuple[str, ...]
) -> None:
    design = AttentionDesign(type="cbam", channel=False, spatial_pool=pools, kernel_size=3)
    attention = build_attention(design, 4).double()
    weight = np.linspace(-1.0, 1.0, len(pools) * 9).reshape(len(pools), 3, 3)
    with torch.no_grad():
        attention.spatial_gate.conv.weight.copy_(torch.from_numpy(weight)[None])
        attention.spatial_gate.conv.bias.fill_(0.1)
    x = feature_map[0].numpy()
    channel_pools = {"avg": x.mean(axis=0), "max": x.max(axis=0)}
    maps = np.stack([channel_pools[pool] for pool in pools])
    expected = x * _sigmoid(_conv2d_one_map(maps, weight, 0.1))[None]
    np.testing.assert_allclose(attention(feature_map)[0].detach().numpy(), expected, rtol=1e-12)


def test_learned_conv1x1_compression_replaces_pooling(feature_map: torch.Tensor) -> None:
    design = AttentionDesign(type="cbam", channel=False, spatial_pool=("conv1x1",), kernel_size=3)
    attention = build_attention(design, 4).double().eval()
    compress = np.array([0.3, -0.2, 0.5, 0.1])
    weight = np.arange(9, dtype=np.float64).reshape(1, 3, 3) / 10
    with torch.no_grad():
        attention.spatial_gate.compress.weight.copy_(torch.from_numpy(compress).view(1, 4, 1, 1))
        attention.spatial_gate.conv.weight.copy_(torch.from_numpy(weight)[None])
        attention.spatial_gate.conv.bias.zero_()
    x = feature_map[0].numpy()
    compressed = np.einsum("chw,c->hw", x, compress)[None]
    expected = x * _sigmoid(_conv2d_one_map(compressed, weight, 0.0))[None]
    np.testing.assert_allclose(attention(feature_map)[0].detach().numpy(), expected, rtol=1e-12)


def _randomise_bn_statistics(module: torch.nn.Module) -> None:
    """Non-trivial eval-mode BN (mean, var, scale, shift), so a BN in the wrong place changes the output."""
    generator = torch.Generator().manual_seed(1)
    for bn in module.modules():
        if isinstance(bn, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
            size = bn.num_features
            with torch.no_grad():
                bn.running_mean.copy_(torch.randn(size, generator=generator))
                bn.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
                bn.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                bn.bias.copy_(torch.randn(size, generator=generator))


def _bn(x: torch.Tensor, bn: torch.nn.Module | None) -> torch.Tensor:
    """Eval-mode batch norm over dim 1 by its formula; no norm passes ``x`` through."""
    if bn is None:
        return x
    shape = [1] * x.dim()
    shape[1] = -1
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).view(shape)
    return (x - bn.running_mean.view(shape)) * scale + bn.bias.view(shape)


def _linear(x: torch.Tensor, layer: torch.nn.Linear) -> torch.Tensor:
    return x @ layer.weight.T + (0.0 if layer.bias is None else layer.bias)


def _bam_maps(attention: Attention, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mc and Ms of BAM, written out from the paper with the module's own weights."""
    fc1, hidden_bn, _, fc2 = attention.channel_gate.mlp
    hidden = torch.relu(_bn(_linear(x.mean(dim=(2, 3)), fc1), hidden_bn))
    channel = _bn(_linear(hidden, fc2), attention.channel_gate.norm)[:, :, None, None]
    reduce, bn1, _, dilated, bn2, _, expand = attention.spatial_gate.body
    spatial = torch.relu(_bn(torch.nn.functional.conv2d(x, reduce.weight), bn1))
    spatial = torch.relu(_bn(torch.nn.functional.conv2d(spatial, dilated.weight, padding=2, dilation=2), bn2))
    spatial = _bn(torch.nn.functional.conv2d(spatial, expand.weight), attention.spatial_gate.norm)
    return channel, spatial


def test_bam_output_is_f_plus_f_times_sigmoid_of_summed_maps(feature_map: torch.Tensor) -> None:
    design = AttentionDesign(type="bam", reduction=2, dilation=2, dilated_convs=1)
    attention = build_attention(design, 4).double()
    _randomise_bn_statistics(attention)
    attention.eval()
    channel, spatial = _bam_maps(attention, feature_map)
    expected = feature_map + feature_map * torch.sigmoid(channel + spatial)
    torch.testing.assert_close(attention(feature_map), expected, rtol=1e-12, atol=1e-12)


def test_bam_official_is_f_times_one_plus_sigmoid_of_product(feature_map: torch.Tensor) -> None:
    """Released BAM: no final BNs, product combination: F ⊗ (1 + σ(Mc · Ms))."""
    design = AttentionDesign(type="bam-official", reduction=2, dilation=2, dilated_convs=1)
    attention = build_attention(design, 4).double()
    assert attention.channel_gate.norm is None and attention.spatial_gate.norm is None
    _randomise_bn_statistics(attention)
    attention.eval()
    channel, spatial = _bam_maps(attention, feature_map)
    expected = feature_map * (1 + torch.sigmoid(channel * spatial))
    torch.testing.assert_close(attention(feature_map), expected, rtol=1e-12, atol=1e-12)
