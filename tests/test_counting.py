"""count_cost: exact params and MACs, split backbone vs attention; the CBAM paper's table reproduced exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnlab.errors import ConfigError
from attnlab.modules import CBAM, AttentionDesign, BackboneConfig, CostLine, build_model, count_cost, model_cost
from attnlab.modules.paper import CBAM_PAPER_TABLE, compare_with_paper


def test_the_cbam_paper_cost_table_is_reproduced_exactly() -> None:
    comparisons = compare_with_paper()
    assert [c.row.architecture for c in comparisons] == [row.architecture for row in CBAM_PAPER_TABLE]
    ours = [(c.row.architecture, c.params_m, c.gmacs) for c in comparisons]
    paper = [(row.architecture, row.params_m, row.gmacs) for row in CBAM_PAPER_TABLE]
    assert ours == paper and len(paper) == 24 and all(c.matches for c in comparisons)
    table = {row.architecture: (row.params_m, row.gmacs) for row in CBAM_PAPER_TABLE}
    # The six rows of the design spec (attention-design.md) are the paper's, copied independently.
    assert [table[name] for name in ("ResNet-18", "ResNet-18 + SE", "ResNet-18 + CBAM")] == [
        (11.69, 1.814),
        (11.78, 1.814),
        (11.78, 1.815),
    ]
    assert [table[name] for name in ("ResNet-50", "ResNet-50 + SE", "ResNet-50 + CBAM")] == [
        (25.56, 3.858),
        (28.09, 3.860),
        (28.09, 3.864),
    ]
    exact = {c.row.architecture: (c.cost.params, c.cost.macs) for c in comparisons}
    assert exact["ResNet-18"] == (11_689_512, 1_814_073_344)
    assert exact["ResNet-50"] == (25_557_032, 3_857_973_248)
    assert exact["WideResNet-18 (widen=1.5)"][0] == 25_875_816


def _wide_resnet18_params(widen: float) -> int:
    """WideResNet-18 counted by hand: 64-channel stem, stages of 64k..512k channels, a 1×1 projection (+ BN) into
    each stage (stage 1 included, since 64 != 64k), two 3×3 convs + BN per basic block, fc to 1000 classes."""
    widths = [int(64 * widen * 2**stage) for stage in range(4)]
    total, inputs = 3 * 64 * 49 + 2 * 64, 64
    for width in widths:
        total += 9 * inputs * width + 2 * width + 9 * width * width + 2 * width  # first block's two convs + BNs
        total += inputs * width + 2 * width  # its projection shortcut
        total += 2 * (9 * width * width + 2 * width)  # second block
        inputs = width
    return total + inputs * 1000 + 1000


def test_wide_resnet18_is_resnet18_with_wider_stages_and_the_64_channel_stem() -> None:
    """25.88M at widen 1.5 fixes the construction; widen 2.0 and + SE/CBAM then follow with nothing tuned."""
    for widen in (1.5, 2.0):
        cost = model_cost(
            BackboneConfig(name="wide_resnet18", widen_factor=widen), AttentionDesign(type="none"), 1000, 3, 224
        )
        assert cost.params == _wide_resnet18_params(widen)
    assert _wide_resnet18_params(1.5) == 25_875_816


def test_resnet50_v15_costs_4089_gmacs_with_the_same_params() -> None:
    v15 = model_cost(
        BackboneConfig(name="resnet50", stride_placement="v1.5"), AttentionDesign(type="none"), 1000, 3, 224
    )
    v1 = model_cost(BackboneConfig(name="resnet50"), AttentionDesign(type="none"), 1000, 3, 224)
    assert round(v15.gmacs, 3) == 4.089 and v15.params == v1.params


def test_small_network_counted_by_hand() -> None:
    """Conv 3→8 3×3 on 8×8, CBAM(8, r=2), pool, Linear 8→4: every MAC and parameter written out."""
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), CBAM(8, reduction=2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    net.append(nn.Linear(8, 4))
    report = count_cost(net, (3, 8, 8))
    conv_macs, linear_macs = 8 * 3 * 9 * 64, 8 * 4
    mlp_macs = 2 * (8 * 4 + 4 * 8)  # the shared MLP, once per pooled descriptor (avg, max)
    spatial_macs = 2 * 49 * 64  # 7×7 conv on [avg; max], one output map
    assert report.breakdown == (
        CostLine("backbone", "Conv2d", 8 * 27 + 8, conv_macs),
        CostLine("backbone", "Linear", 8 * 4 + 4, linear_macs),
        CostLine("attention", "Conv2d", 2 * 49 + 1, spatial_macs),
        CostLine("attention", "Linear", 8 * 4 + 4 + 4 * 8 + 8, mlp_macs),
    )
    assert report.macs == conv_macs + linear_macs + mlp_macs + spatial_macs
    assert report.params == sum(parameter.numel() for parameter in net.parameters())
    assert report.part_total("attention") == (2 * 49 + 1 + 8 * 4 + 4 + 4 * 8 + 8, mlp_macs + spatial_macs)


def test_channel_mlp_is_charged_once_per_pooled_descriptor() -> None:
    def attention_macs(pools: tuple[str, ...]) -> int:
        design = AttentionDesign(type="cbam", spatial=False, channel_pool=pools)
        return model_cost(BackboneConfig(name="resnet18"), design, 1000, 3, 224).part_total("attention")[1]

    one = attention_macs(("avg",))
    assert attention_macs(("avg", "max")) == 2 * one
    assert attention_macs(("avg", "max", "lp", "lse")) == 4 * one


def test_real_and_meta_counts_agree_and_training_mode_is_restored() -> None:
    backbone, design = BackboneConfig(name="resnet18", stem="cifar", width=0.25), AttentionDesign(type="bam")
    model = build_model(backbone, design, num_classes=10).train()
    real = count_cost(model, (3, 32, 32))
    assert model.training
    assert real == model_cost(backbone, design, 10, 3, 32)
    assert real.part_total("backbone")[0] + real.part_total("attention")[0] == real.params


def test_report_as_json_ready_dict() -> None:
    report = model_cost(BackboneConfig(), AttentionDesign(type="se"), 1000, 3, 224)
    data = report.to_dict()
    assert (data["params"], data["macs"]) == (11_778_592, report.macs)
    assert data["parts"]["attention"] == {"params": 89_080, "macs": report.part_total("attention")[1]}
    assert {line["part"] for line in data["breakdown"]} == {"backbone", "attention"}


@pytest.mark.parametrize("shape", [(), (3, 0, 32), (3, 32.0, 32)])
def test_invalid_input_shape(shape: tuple) -> None:
    with pytest.raises(ConfigError, match="input_shape"):
        count_cost(nn.Conv2d(3, 3, 1), shape)


def test_invalid_image_size() -> None:
    with pytest.raises(ConfigError, match="image_size"):
        model_cost(BackboneConfig(), AttentionDesign(), 1000, 3, 0)


def test_counting_resnet152_at_224_on_the_meta_device() -> None:
    report = model_cost(BackboneConfig(name="resnet152"), AttentionDesign(type="cbam"), 1000, 3, 224)
    assert report.params == 60_192_808 + report.part_total("attention")[0]
    assert round(report.gmacs, 3) == 11.298
    assert not torch.empty(0).is_meta  # the meta device stays a local context
