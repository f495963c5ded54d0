"""The families beside CBAM, BAM and SE, and the published CBAM forms, against their references in numpy.

Where timm has the module (EcaModule, GlobalContext, CoordAttn, CbamModule, LightCbamModule) its forward is written
out below with timm's defaults; where it has none (SimAM), the paper's equations. Hand-set weights, float64.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from attnlab.modules import AttentionDesign, build_attention, count_cost
from attnlab.modules.design import PRESET_SOURCES, PRESETS
from attnlab.modules.family_gates import eca_kernel_size


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _hardswish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def _input(channels: int = 8, height: int = 5, width: int = 6, batch: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch, channels, height, width, generator=generator, dtype=torch.float64)


def _fill(module: nn.Module, seed: int = 3) -> None:
    """Every parameter set to a hand-chosen (seeded) value, so no init hides a wrong wiring."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator, dtype=torch.float64))


def _np(tensor: torch.Tensor | None) -> np.ndarray | float:
    return 0.0 if tensor is None else tensor.detach().numpy()


def _check(attention: nn.Module, x: torch.Tensor, expected: np.ndarray) -> None:
    np.testing.assert_allclose(attention(x).detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def _conv1d_same(vector: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Zero-padded cross-correlation of one (C,) vector with a (k,) kernel, output length C."""
    pad = len(kernel) // 2
    padded = np.pad(vector, pad)
    return np.array([padded[index : index + len(kernel)] @ kernel for index in range(len(vector))])


def test_eca_kernel_follows_timms_adaptive_rule() -> None:
    assert [eca_kernel_size(c) for c in (4, 16, 64, 128, 256, 512, 2048)] == [3, 3, 3, 5, 5, 5, 7]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("channels", [16, 128])
def test_eca_is_timms_eca_module(channels: int, training: bool) -> None:
    """timm EcaModule: x * σ(conv1d(mean_hw(x))), conv without bias, zero padding, adaptive k."""
    attention = build_attention(AttentionDesign(type="eca"), channels).double().train(training)
    _fill(attention)
    kernel = _np(attention.channel_gate.mlp.conv.weight)[0, 0]
    assert len(kernel) == eca_kernel_size(channels) and attention.channel_gate.mlp.conv.bias is None
    x = _input(channels)
    data = x.numpy()
    expected = np.stack(
        [sample * _sigmoid(_conv1d_same(sample.mean(axis=(1, 2)), kernel))[:, None, None] for sample in data]
    )
    _check(attention, x, expected)


def test_eca_transform_inside_cbams_channel_gate() -> None:
    """The axes compose: ECA's conv on avg and on max, summed, then CBAM's spatial gate."""
    design = AttentionDesign(type="cbam", channel_transform="conv1d", channel_kernel_size=3, kernel_size=3)
    attention = build_attention(design, 8).double()
    _fill(attention)
    kernel = _np(attention.channel_gate.mlp.conv.weight)[0, 0]
    conv = attention.spatial_gate.conv
    x = _input()
    out = []
    for sample in x.numpy():
        logits = _conv1d_same(sample.mean(axis=(1, 2)), kernel) + _conv1d_same(sample.max(axis=(1, 2)), kernel)
        refined = sample * _sigmoid(logits)[:, None, None]
        maps = torch.from_numpy(np.stack([refined.mean(axis=0), refined.max(axis=0)]))[None]
        spatial = nn.functional.conv2d(maps, conv.weight, conv.bias, padding=1)[0, 0].detach().numpy()
        out.append(refined * _sigmoid(spatial)[None])
    _check(attention, x, np.stack(out))


def _layer_norm(vector: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    return (vector - vector.mean()) / np.sqrt(vector.var() + eps) * weight + bias


def _global_context(sample: np.ndarray, attention: nn.Module) -> np.ndarray:
    """timm GlobalContext: softmax over H·W of conv_attn(x), context = Σ softmax · x, then ConvMlp with LayerNorm2d."""
    gate = attention.channel_gate
    pool = gate.attention_pool.conv
    scores = np.einsum("chw,c->hw", sample, _np(pool.weight)[0, :, 0, 0]) + _np(pool.bias)[0]
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    context = np.einsum("chw,hw->c", sample, weights)
    fc1, norm, _, fc2 = gate.mlp
    hidden = _np(fc1.weight) @ context + _np(fc1.bias)
    hidden = np.maximum(_layer_norm(hidden, _np(norm.weight), _np(norm.bias)), 0.0)
    return _np(fc2.weight) @ hidden + _np(fc2.bias)


@pytest.mark.parametrize("training", [True, False])
def test_gc_adds_the_context_as_gcnet_and_timms_fuse_add(training: bool) -> None:
    """GCNet / timm GlobalContext(fuse_add=True, fuse_scale=False): x + mlp(context), LayerNorm eps 1e-6."""
    attention = build_attention(AttentionDesign(type="gc"), 32).double().train(training)
    assert attention.channel_gate.mlp[0].out_features == 2  # C / 16
    _fill(attention)
    x = _input(32)
    expected = np.stack([sample + _global_context(sample, attention)[:, None, None] for sample in x.numpy()])
    _check(attention, x, expected)


def test_gc_timm_is_timms_global_context_defaults() -> None:
    """timm GlobalContext(): fuse_scale, x * σ(mlp(context)), rd_ratio 1/8."""
    attention = build_attention(AttentionDesign(type="gc-timm"), 40).double()
    assert attention.channel_gate.mlp[0].out_features == 5
    _fill(attention)
    x = _input(40)
    expected = np.stack([s * _sigmoid(_global_context(s, attention))[:, None, None] for s in x.numpy()])
    _check(attention, x, expected)


def test_gc_starts_as_the_identity() -> None:
    """GCNet zero-initialises the last layer of an added context: the block is the identity at init."""
    attention = build_attention(AttentionDesign(type="gc"), 32).double()
    x = _input(32)
    torch.testing.assert_close(attention(x), x)


def _coordinate(x: np.ndarray, attention: nn.Module, training: bool) -> np.ndarray:
    """timm CoordAttn: strips, shared 1×1 conv + BN + hard-swish, one 1×1 head per direction, two sigmoids."""
    gate = attention.channel_gate
    height = x.shape[2]
    strips = np.concatenate([x.mean(axis=3), x.mean(axis=2)], axis=2)  # N×C×(H+W)
    shared = np.einsum("kc,ncp->nkp", _np(gate.reduce.weight)[:, :, 0, 0], strips)
    shared = shared + (_np(gate.reduce.bias)[None, :, None] if gate.reduce.bias is not None else 0.0)
    bn = gate.norm
    if training:
        mean, var = shared.mean(axis=(0, 2)), shared.var(axis=(0, 2))
    else:
        mean, var = _np(bn.running_mean), _np(bn.running_var)
    shared = (shared - mean[None, :, None]) / np.sqrt(var[None, :, None] + bn.eps)
    shared = _hardswish(shared * _np(bn.weight)[None, :, None] + _np(bn.bias)[None, :, None])

    def head(conv: nn.Conv2d, part: np.ndarray) -> np.ndarray:
        bias = _np(conv.bias)[None, :, None] if conv.bias is not None else 0.0
        return _sigmoid(np.einsum("ck,nkp->ncp", _np(conv.weight)[:, :, 0, 0], part) + bias)

    along_h, along_w = head(gate.head_h, shared[:, :, :height]), head(gate.head_w, shared[:, :, height:])
    return x * along_h[:, :, :, None] * along_w[:, :, None, :]


@pytest.mark.parametrize("preset", ["coord", "coord-timm"])
@pytest.mark.parametrize("training", [True, False])
def test_coordinate_attention_is_the_reference_in_train_and_eval(preset: str, training: bool) -> None:
    attention = build_attention(AttentionDesign(type=preset), 64).double()
    _fill(attention)
    with torch.no_grad():
        attention.channel_gate.norm.running_mean.uniform_(-0.5, 0.5)
        attention.channel_gate.norm.running_var.uniform_(0.5, 1.5)
    attention.train(training)
    x = _input(64)
    _check(attention, x, _coordinate(x.numpy(), attention, training))


def test_coordinate_hidden_widths_and_biases() -> None:
    """The authors' code: mip = max(8, C // 32), biased heads; timm: make_divisible(C / 24, 8), no bias."""
    paper = build_attention(AttentionDesign(type="coord"), 512).channel_gate
    timm = build_attention(AttentionDesign(type="coord-timm"), 512).channel_gate
    assert (paper.reduce.out_channels, timm.reduce.out_channels) == (16, 24)
    assert build_attention(AttentionDesign(type="coord"), 64).channel_gate.reduce.out_channels == 8
    assert paper.head_h.bias is not None and timm.head_h.bias is None
    assert paper.reduce.bias is None  # the BN after it cancels a bias


def _simam(x: np.ndarray, energy_lambda: float = 1e-4) -> np.ndarray:
    """SimAM, Yang et al. 2021, Eq. (5) and its code: n = H·W - 1."""
    n = x.shape[2] * x.shape[3] - 1
    squared = (x - x.mean(axis=(2, 3), keepdims=True)) ** 2
    energy_inverse = squared / (4 * (squared.sum(axis=(2, 3), keepdims=True) / n + energy_lambda)) + 0.5
    return x * _sigmoid(energy_inverse)


@pytest.mark.parametrize("training", [True, False])
def test_simam_is_the_papers_energy_gate(training: bool) -> None:
    attention = build_attention(AttentionDesign(type="simam"), 8).double().train(training)
    assert sum(p.numel() for p in attention.parameters()) == 0
    x = _input()
    _check(attention, x, _simam(x.numpy()))
    one_pixel = _input(height=1, width=1)
    _check(attention, one_pixel, one_pixel.numpy() * _sigmoid(0.5))


def _mlp(vector: np.ndarray, mlp: nn.Sequential) -> np.ndarray:
    fc1, _, fc2 = mlp
    hidden = np.maximum(_np(fc1.weight) @ vector + _np(fc1.bias), 0.0)
    return _np(fc2.weight) @ hidden + _np(fc2.bias)


def _spatial_logits(maps: np.ndarray, attention: nn.Module, padding: int) -> np.ndarray:
    """The conv over a batch of (N, M, H, W) pooled maps, then its BN: batch statistics in train mode."""
    conv = attention.spatial_gate.conv
    logits = nn.functional.conv2d(torch.from_numpy(maps), conv.weight, conv.bias, padding=padding).detach().numpy()
    norm = attention.spatial_gate.norm
    if norm is None:
        return logits[:, 0]
    if attention.training:
        mean, var = logits.mean(), logits.var()
    else:
        mean, var = _np(norm.running_mean)[0], _np(norm.running_var)[0]
    return ((logits - mean) / np.sqrt(var + norm.eps) * _np(norm.weight)[0] + _np(norm.bias)[0])[:, 0]


@pytest.mark.parametrize("training", [True, False])
def test_light_cbam_is_timms_light_cbam_module(training: bool) -> None:
    """timm LightCbamModule: MLP on 0.5·avg + 0.5·max, then a 1-input k×k conv + BN on 0.5·mean_c + 0.5·max_c."""
    attention = build_attention(AttentionDesign(type="cbam-light", kernel_size=3), 40).double()
    assert attention.channel_gate.mlp[0].out_features == 3 and attention.channel_gate.mlp[0].bias is None
    assert attention.spatial_gate.conv.in_channels == 1 and attention.spatial_gate.conv.bias is None
    _fill(attention)
    attention.train(training)
    x = _input(40)
    refined = []
    for sample in x.numpy():
        pooled = 0.5 * sample.mean(axis=(1, 2)) + 0.5 * sample.max(axis=(1, 2))
        refined.append(sample * _sigmoid(_mlp(pooled, attention.channel_gate.mlp))[:, None, None])
    refined = np.stack(refined)
    merged = (0.5 * refined.mean(axis=1) + 0.5 * refined.max(axis=1))[:, None]
    _check(attention, x, refined * _sigmoid(_spatial_logits(merged, attention, 1))[:, None])


def test_cbam_timm_rounds_the_hidden_width_as_timm() -> None:
    """timm make_divisible(40 / 16, 1, round_limit=0) = 3; the paper's floor gives 2."""
    assert build_attention(AttentionDesign(type="cbam-timm"), 40).channel_gate.mlp[0].out_features == 3
    assert build_attention(AttentionDesign(type="cbam"), 40).channel_gate.mlp[0].out_features == 2
    nearest = AttentionDesign(type="cbam", hidden_rounding="nearest", hidden_divisor=8)
    assert [nearest.check_channels(c) for c in (40, 64, 200, 256)] == [8, 8, 16, 16]


def test_cifar_cbam_is_its_own_residual_unit() -> None:
    """out = CBAM(x) + x, [max; avg] into a 7×7 conv without bias or norm, biased MLP, r = 4."""
    attention = build_attention(AttentionDesign(type="cbam-cifar"), 8).double()
    assert attention.spatial_gate.conv.bias is None and attention.spatial_gate.norm is None
    assert attention.channel_gate.mlp[0].out_features == 2 and attention.channel_gate.mlp[0].bias is not None
    _fill(attention)
    x = _input()
    refined = []
    for sample in x.numpy():
        channel = _mlp(sample.mean(axis=(1, 2)), attention.channel_gate.mlp)
        channel = channel + _mlp(sample.max(axis=(1, 2)), attention.channel_gate.mlp)
        refined.append(sample * _sigmoid(channel)[:, None, None])
    refined = np.stack(refined)
    maps = np.stack([refined.max(axis=1), refined.mean(axis=1)], axis=1)
    _check(attention, x, refined * _sigmoid(_spatial_logits(maps, attention, 3))[:, None] + x.numpy())


@pytest.mark.parametrize(
    ("preset", "params"),
    [
        ("se", 2 * 64 * 4 + 4 + 64),
        ("eca", 3),
        ("gc", (64 + 1) + (64 * 4 + 4) + 2 * 4 + (4 * 64 + 64)),
        ("gc-timm", (64 + 1) + (64 * 8 + 8) + 2 * 8 + (8 * 64 + 64)),
        ("coord", 64 * 8 + 2 * 8 + 2 * (8 * 64 + 64)),
        ("coord-timm", 64 * 8 + 2 * 8 + 2 * 8 * 64),
        ("simam", 0),
        ("cbam", 2 * 64 * 4 + 4 + 64 + 2 * 49 + 1),
        ("cbam-light", 2 * 64 * 4 + 49 + 2),
        ("bam", (64 * 4 + 2 * 4 + 4 * 64 + 2 * 64) + (64 * 4 + 2 * 4 + 2 * (4 * 4 * 9 + 2 * 4) + 4 + 2)),
    ],
)
def test_each_familys_parameter_count_on_one_block(preset: str, params: int) -> None:
    """One block on a 64-channel map: the count of the family's formula (r = 16 unless the preset says otherwise)."""
    attention = build_attention(AttentionDesign(type=preset), 64)
    assert sum(parameter.numel() for parameter in attention.parameters()) == params


@pytest.mark.parametrize(
    ("preset", "macs"),
    [
        ("eca", 64 * 3),  # the 1-D conv, k = 3, once per channel
        ("gc", 64 * 64 + 64 * 64 + 2 * 64 * 4),  # 1×1 conv to the scores, the weighted sum, the bottleneck
        ("coord", (8 + 8) * (64 * 8) + 8 * 8 * 64 + 8 * 8 * 64),  # shared conv on H + W strips, one head each
        ("simam", 0),  # elementwise only, as every gate's sigmoid and product
    ],
)
def test_each_familys_macs_on_one_block(preset: str, macs: int) -> None:
    """What `attnlab describe` charges to attention, on a 64-channel 8×8 map."""
    report = count_cost(build_attention(AttentionDesign(type=preset), 64), (64, 8, 8))
    assert report.macs == macs


def test_every_preset_has_its_source_in_the_code_and_the_design_doc() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "design-space.md").read_text(encoding="utf-8")
    assert set(PRESET_SOURCES) == set(PRESETS)
    for preset in PRESETS:
        assert f"| `{preset}` |" in doc, preset
    assert "avg_pool2d(x, H, stride=H)" in doc and "avg_pool2d(x, H, stride=H)" in PRESET_SOURCES["bam-official"]


@pytest.mark.parametrize("preset", ["eca", "gc", "gc-timm", "coord", "coord-timm", "cbam-light", "cbam-cifar"])
def test_gradients_reach_every_parameter_of_one_block(preset: str) -> None:
    """Past init (GC's zero last layer blocks everything before it only at the start), every weight learns."""
    attention = build_attention(AttentionDesign(type=preset), 32).double().train()
    _fill(attention)
    attention(_input(32)).square().sum().backward()
    for name, parameter in attention.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
