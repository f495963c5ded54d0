"""Grad-CAM against its formula computed by hand, the localisation scores, and the gate-map hooks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from attnlab.errors import ConfigError
from attnlab.modules import AttentionDesign, build_attention
from attnlab.modules.backbones import BackboneConfig
from attnlab.modules.model import build_model
from attnlab.reports.explain_gates import gate_maps, last_gate_per_stage
from attnlab.reports.explain_gradcam import grad_cam, last_stage, named_layer
from attnlab.reports.explain_scores import box_mask, energy_in_box, pointing_hit


def _tiny_network() -> nn.Sequential:
    """1×1 conv to 2 maps (A_0 = ReLU(x), A_1 = ReLU(0.5 x + 1)), global average pool, linear to 2 classes."""
    conv = nn.Conv2d(1, 2, kernel_size=1)
    linear = nn.Linear(2, 2)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.5]).view(2, 1, 1, 1))
        conv.bias.copy_(torch.tensor([0.0, 1.0]))
        linear.weight.copy_(torch.tensor([[3.0, -1.0], [-1.0, 2.0]]))
        linear.bias.zero_()
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), linear)


def test_grad_cam_is_relu_of_the_gradient_weighted_sum_of_activations() -> None:
    network = _tiny_network().eval()
    image = torch.tensor([[2.0, 0.2, -1.0, 4.0], [0.0, 1.0, -3.0, 0.5], [3.0, -0.5, 2.5, 1.5], [0.4, 0.8, -2.0, 6.0]])
    maps = grad_cam(network, network[1], image[None, None], torch.tensor([0]))
    # y_0 = mean(3 A_0 - A_1): dy_0/dA_k = W[0, k] / 16 everywhere, so alpha = (3/16, -1/16) and the map is
    # ReLU(3 ReLU(x) - ReLU(0.5 x + 1)) / 16: for x = 2: (6 - 2) / 16 = 0.25; x = 0.2: 0.6 - 1.1 < 0 -> 0.
    a0, a1 = image.clamp(min=0), (0.5 * image + 1).clamp(min=0)
    by_hand = (3 / 16 * a0 - 1 / 16 * a1).clamp(min=0)
    assert maps.shape == (1, 4, 4)
    assert torch.allclose(maps[0], by_hand, atol=1e-7)
    assert maps[0, 0, 0].item() == pytest.approx(0.25) and maps[0, 0, 1].item() == 0.0
    assert maps[0, 3, 3].item() == pytest.approx((18 - 4) / 16)
    # class 1: alpha = (-1/16, 2/16): ReLU(2 A_1 - A_0) / 16; x = 2: (4 - 2) / 16
    other = grad_cam(network, network[1], image[None, None], torch.tensor([1]))
    assert other[0, 0, 0].item() == pytest.approx(2 / 16)


def test_grad_cam_upsamples_to_the_input_and_finds_the_last_stage() -> None:
    model = build_model(BackboneConfig(name="resnet18", stem="cifar", width=0.25), AttentionDesign(type="cbam"), 10, 1)
    model.eval()
    images = torch.rand(2, 1, 32, 32)
    assert last_stage(model, images) == "layer4"  # avgpool's 1×1 output is no spatial map
    maps = grad_cam(model, named_layer(model, "layer4"), images, torch.tensor([3, 7]))
    assert maps.shape == (2, 32, 32) and bool((maps >= 0).all())
    stages = "conv1, maxpool, bn1, relu, layer1, layer2, layer3, layer4, avgpool, fc"
    with pytest.raises(ConfigError, match=rf"^--layer: 'layer9' is not a part of the network; stages: {stages}$"):
        named_layer(model, "layer9")


def test_energy_share_and_pointing_game_on_hand_made_maps() -> None:
    mask = box_mask([(1, 1, 3, 3)], 4, 4)  # the 2×2 centre
    inside = torch.zeros(4, 4)
    inside[1:3, 1:3] = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    outside = torch.ones(4, 4) - mask.float()
    assert energy_in_box(inside, mask) == 100.0 and pointing_hit(inside, mask) == 100.0
    assert energy_in_box(outside, mask) == 0.0 and pointing_hit(outside, mask) == 0.0
    half = inside + outside * (10 / 12)  # 10 inside, 10 outside; the maximum (4) inside
    assert energy_in_box(half, mask) == pytest.approx(50.0) and pointing_hit(half, mask) == 100.0
    assert math.isnan(energy_in_box(torch.zeros(4, 4), mask)) and math.isnan(pointing_hit(torch.zeros(4, 4), mask))
    assert int(box_mask([(0, 0, 1, 1), (3, 2, 4, 4)], 4, 4).sum()) == 1 + 2  # several boxes: their union


@pytest.mark.parametrize("arrangement", ["channel_first", "spatial_first"])
def test_gate_hooks_return_exactly_what_the_gate_multiplied_by(arrangement: str) -> None:
    torch.manual_seed(0)
    attention = build_attention(AttentionDesign(type="cbam", arrangement=arrangement, reduction=4), 8).eval()
    features = torch.randn(2, 8, 6, 6)
    gate_inputs: list[torch.Tensor] = []
    attention.spatial_gate.register_forward_pre_hook(lambda _m, args: gate_inputs.append(args[0]))
    with gate_maps(attention) as maps, torch.no_grad():
        output = attention(features)
    (gate_map,) = maps.values()
    assert list(maps) == ["spatial_gate"] and gate_map.shape == (2, 1, 6, 6)
    assert float(gate_map.min()) > 0 and float(gate_map.max()) < 1
    if arrangement == "channel_first":  # F'' = F' ⊗ σ(Ms(F')): the last product
        assert torch.equal(output, gate_inputs[0] * gate_map)
    else:  # F' = F ⊗ σ(Ms(F)) is what the channel gate then sees
        channel_inputs: list[torch.Tensor] = []
        attention.channel_gate.register_forward_pre_hook(lambda _m, args: channel_inputs.append(args[0]))
        with torch.no_grad():
            attention(features)
        assert torch.equal(channel_inputs[0], features * gate_map)
    assert not attention.spatial_gate._forward_hooks  # removed on leaving the context


def test_gate_maps_of_a_network_keep_the_deepest_gate_of_each_stage() -> None:
    model = build_model(BackboneConfig(name="resnet18", stem="cifar", width=0.25), AttentionDesign(type="cbam"), 10, 1)
    with gate_maps(model.eval()) as maps, torch.no_grad():
        model(torch.rand(1, 1, 32, 32))
    assert len(maps) == 8  # two blocks per stage, a gate in each
    per_stage = last_gate_per_stage(maps)
    assert list(per_stage) == ["layer1", "layer2", "layer3", "layer4"]
    assert [gate.shape[-1] for gate in per_stage.values()] == [32, 16, 8, 4]
    assert per_stage["layer2"] is maps["layer2.1.attention.spatial_gate"]
    plain = build_model(BackboneConfig(name="resnet18", stem="cifar", width=0.25), AttentionDesign(type="se"), 10, 1)
    with gate_maps(plain.eval()) as none, torch.no_grad():
        plain(torch.rand(1, 1, 32, 32))
    assert none == {}  # no spatial gate, no map
