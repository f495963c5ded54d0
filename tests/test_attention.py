"""Every design field changes the module as the spec says; the family works alone in any CNN."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
import torch
from torch import nn

from attnlab.modules import (
    BAM,
    CBAM,
    PRESETS,
    SE,
    Attention,
    AttentionDesign,
    BackboneConfig,
    build_attention,
    build_model,
)

SMALL_BACKBONE = BackboneConfig(name="resnet18", stem="cifar", width=0.25)


def _input(channels: int = 32, size: int = 6, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(0))


def _param_count(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def _same_weights(design_a: AttentionDesign, design_b: AttentionDesign, channels: int = 32) -> tuple[nn.Module, ...]:
    """Two modules built from different designs, the second loaded with the first's weights."""
    torch.manual_seed(0)
    first = build_attention(design_a, channels).eval()
    second = build_attention(design_b, channels).eval()
    second.load_state_dict(first.state_dict())
    return first, second


def test_se_equals_cbam_with_avg_channel_pool_and_no_spatial_gate() -> None:
    se, cbam_avg = _same_weights(
        AttentionDesign(type="se"), AttentionDesign(type="cbam", channel_pool=("avg",), spatial=False)
    )
    assert _param_count(se) == _param_count(cbam_avg) == 2 * 32 * 2 + 2 + 32  # C→C/16→C, biased
    x = _input()
    torch.testing.assert_close(se(x), cbam_avg(x), rtol=0, atol=0)


def test_spatial_first_differs_from_channel_first_with_the_same_weights() -> None:
    channel_first, spatial_first = _same_weights(
        AttentionDesign(type="cbam"), AttentionDesign(type="cbam", arrangement="spatial_first")
    )
    x = _input()
    assert (channel_first(x) - spatial_first(x)).abs().max() > 1e-4


def test_each_parallel_combination_gives_a_different_output() -> None:
    designs = [AttentionDesign(type="cbam", arrangement="parallel", combine=combine) for combine in ("sum", "product")]
    designs.append(AttentionDesign(type="cbam", arrangement="parallel", combine="max"))
    modules = _same_weights(designs[0], designs[1]) + _same_weights(designs[0], designs[2])[1:]
    x = _input()
    outputs = [module(x) for module in modules]
    for first, second in itertools.combinations(outputs, 2):
        assert (first - second).abs().max() > 1e-4
    sequential, parallel = _same_weights(AttentionDesign(type="cbam"), designs[0])
    assert (sequential(x) - parallel(x)).abs().max() > 1e-4


def test_parallel_sum_is_sigmoid_of_broadcast_channel_plus_spatial_map() -> None:
    attention = build_attention(AttentionDesign(type="cbam", arrangement="parallel"), 32).eval()
    x = _input()
    channel, spatial = attention.channel_gate(x), attention.spatial_gate(x)
    torch.testing.assert_close(attention(x), x * torch.sigmoid(channel + spatial))
    assert channel.shape == (2, 32, 1, 1) and spatial.shape == (2, 1, 6, 6)


def test_residual_adds_the_input_to_the_attention_output() -> None:
    plain, residual = _same_weights(AttentionDesign(type="cbam"), AttentionDesign(type="cbam", residual=True))
    x = _input()
    torch.testing.assert_close(residual(x), x + plain(x))


def test_with_one_gate_off_only_the_other_applies() -> None:
    both = build_attention(AttentionDesign(type="cbam"), 32).eval()
    x = _input()
    channel_only = build_attention(AttentionDesign(type="cbam", spatial=False), 32).eval()
    channel_only.channel_gate.load_state_dict(both.channel_gate.state_dict())
    torch.testing.assert_close(channel_only(x), x * torch.sigmoid(both.channel_gate(x)))
    spatial_only = build_attention(AttentionDesign(type="cbam", channel=False, arrangement="parallel"), 32).eval()
    spatial_only.spatial_gate.load_state_dict(both.spatial_gate.state_dict())
    torch.testing.assert_close(spatial_only(x), x * torch.sigmoid(both.spatial_gate(x)))


@pytest.mark.parametrize("spatial_pool", [("avg", "max"), ("max",), ("conv1x1",)])
def test_kernel_size_changes_params_by_pools_times_49_minus_9_per_module(spatial_pool: tuple[str, ...]) -> None:
    def params(kernel_size: int) -> int:
        design = AttentionDesign(type="cbam", kernel_size=kernel_size, spatial_pool=spatial_pool)
        return _param_count(build_model(SMALL_BACKBONE, design, num_classes=10))

    maps = 1 if spatial_pool == ("conv1x1",) else len(spatial_pool)
    attention_modules = 8  # resnet18: one per basic block
    assert params(7) - params(3) == attention_modules * maps * (49 - 9)


def test_field_changes_reach_the_module_structure() -> None:
    def count(**fields: object) -> int:
        return _param_count(build_attention(AttentionDesign.from_mapping({"type": "cbam", **fields}), 64))

    base = count()
    assert base - count(mlp_bias=False) == 64 // 16 + 64  # both Linear biases
    assert count(channel_norm="bn") - base == 2 * 64 - 64  # BN1d(C) replaces the output bias it would cancel
    assert count(mlp_hidden_norm="bn") - base == 2 * 4 - 4  # BN1d(C/r) replaces the hidden bias
    assert count(spatial_norm="bn") - base == 2 - 1  # BN(1) scale+shift replaces the conv bias
    assert base - count(reduction=8) == -(2 * 64 * 8 + 8 - (2 * 64 * 4 + 4))
    bam = count(spatial_branch="bottleneck", dilated_convs=3) - count(spatial_branch="bottleneck", dilated_convs=2)
    assert bam == 4 * 4 * 9 + 2 * 4  # one more 3×3 conv on C/r = 4 channels, plus its BN


def test_bottleneck_branch_uses_the_dilation() -> None:
    attention = build_attention(AttentionDesign(type="bam", dilation=3), 64)
    dilated = [m for m in attention.spatial_gate.body if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert [(m.dilation, m.padding) for m in dilated] == [((3, 3), (3, 3))] * 2


def test_cbam_official_spatial_bn_starts_at_half_and_uses_the_released_momentum() -> None:
    attention = build_attention(AttentionDesign(type="cbam-official"), 32)
    norm = attention.spatial_gate.norm
    assert norm.momentum == 0.01 and torch.all(norm.weight == 0)
    assert attention.spatial_gate.conv.bias is None
    assert build_attention(AttentionDesign(type="cbam-timm"), 32).spatial_gate.norm.weight.item() == 1.0
    attention.eval()
    x = _input()
    torch.testing.assert_close(attention(x), torch.sigmoid(attention.channel_gate(x)) * x * 0.5)


def test_mlp_biases_start_at_zero() -> None:
    attention = build_attention(AttentionDesign(type="cbam"), 32)
    assert all(torch.all(layer.bias == 0) for layer in attention.channel_gate.mlp if isinstance(layer, nn.Linear))


@pytest.mark.parametrize("preset", list(PRESETS))
def test_gradients_reach_every_parameter(preset: str) -> None:
    torch.manual_seed(0)
    # Width 0.5: at least 2 hidden channels per gate (with 1, BN scale invariance zeroes a gradient exactly).
    backbone = BackboneConfig(name="resnet18", stem="cifar", width=0.5)
    model = build_model(backbone, AttentionDesign(type=preset), num_classes=10).train()
    nn.functional.cross_entropy(model(torch.randn(2, 3, 16, 16)), torch.tensor([1, 7])).backward()
    zero_init_scale = preset == "cbam-official"  # the BN scale of 0 blocks the spatial conv's gradient at init
    # GCNet's added context starts at 0 (last layer zero), which blocks everything before it at init.
    zero_init_context = AttentionDesign(type=preset).apply == "add"
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        blocked = zero_init_scale and ".spatial_gate.conv." in name
        blocked |= zero_init_context and ".channel_gate." in name and ".mlp.3." not in name
        assert (parameter.grad.abs().sum() == 0) == blocked, name


def test_identity_design_builds_nothing() -> None:
    assert isinstance(build_attention(AttentionDesign(type="none"), 32), nn.Identity)
    assert isinstance(build_attention(AttentionDesign(type="cbam", channel=False, spatial=False), 32), nn.Identity)


def test_convenience_classes_are_the_presets_with_overrides() -> None:
    cbam = CBAM(64, kernel_size=3, reduction=8)
    assert isinstance(cbam, Attention) and cbam.design == AttentionDesign(type="cbam", kernel_size=3, reduction=8)
    assert SE(64).design.type == "se" and BAM(64).design.type == "bam"
    assert cbam.spatial_gate.conv.kernel_size == (3, 3) and cbam.channel_gate.mlp[0].out_features == 8


def test_drops_into_a_users_cnn_at_any_resolution() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), CBAM(16, reduction=4), nn.Conv2d(16, 4, 3), BAM(4, reduction=2))
    for size in (5, 9, 28):
        out = net(torch.randn(3, 1, size, size))
        assert out.shape == (3, 4, size - 2, size - 2) and torch.isfinite(out).all()


def test_importing_the_modules_pulls_in_no_training_stack() -> None:
    heavy = ("lightning", "pytorch_lightning", "optuna", "wandb", "torchmetrics", "optuna_integration")
    code = (
        "import sys, attnlab.modules; "
        f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
