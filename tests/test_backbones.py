"""Backbones: torchvision's structure and parameter counts, stems, widths, attention sites and init."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

from attnlab.errors import ConfigError
from attnlab.modules import BACKBONE_NAMES, PRESETS, Attention, AttentionDesign, BackboneConfig, build_model
from attnlab.modules.backbones import BACKBONE_CLASSES
from attnlab.modules.backbones.resnet import BasicBlock, Bottleneck

# torchvision's counts (1000 classes); resnext101_32x4d is timm's, mobilenet_v1 the paper's 4.2M network.
PUBLISHED_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "wide_resnet18": 45_618_216,  # widen 2 (the default); the CBAM paper, Table 4: 45.62M
    "wide_resnet50": 68_883_240,
    "wide_resnet101": 126_886_696,
    "resnext50_32x4d": 25_028_904,
    "resnext101_32x4d": 44_177_704,
    "vgg11_bn": 132_868_840,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "mobilenet_v1": 4_231_976,
}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Width-0.25 networks run as fast on one intra-op thread, which cannot be slowed by oversubscribed cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _params(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def _meta_model(name: str, preset: str = "none", **backbone: Any) -> nn.Module:
    with torch.device("meta"):
        return build_model(BackboneConfig(name=name, **backbone), AttentionDesign(type=preset), num_classes=1000)


def _attention_channels(model: nn.Module) -> list[int]:
    return [module.channels for module in model.modules() if isinstance(module, Attention)]


def test_every_name_has_a_builder() -> None:
    assert set(BACKBONE_CLASSES) == set(BACKBONE_NAMES) == set(PUBLISHED_PARAMS)


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_plain_backbone_has_the_published_parameter_count(name: str) -> None:
    assert _params(_meta_model(name)) == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_every_preset_builds_and_runs_at_cifar_and_imagenet_size(name: str) -> None:
    """Every preset on every backbone at 32×32; at 224×224 all of them on ResNet-18, one per placement elsewhere."""
    sizes = {"cifar": 32, "imagenet": 224}
    cases = [(preset, stem) for preset in PRESETS for stem in sizes]
    if name != "resnet18":
        cases = [(preset, stem) for preset, stem in cases if stem == "cifar" or preset in ("cbam", "bam")]
    for preset, stem in cases:
        model = build_model(BackboneConfig(name=name, stem=stem, width=0.25), AttentionDesign(type=preset), 10)
        with torch.inference_mode():
            logits = model.eval()(torch.randn(1, 3, sizes[stem], sizes[stem]))
        assert logits.shape == (1, 10) and torch.isfinite(logits).all(), (preset, stem)


@pytest.mark.parametrize("name", BACKBONE_NAMES)
def test_tiny_grey_inputs_work_with_the_cifar_stem(name: str) -> None:
    for preset in ("cbam", "bam"):  # one design per placement: block and stage
        model = build_model(BackboneConfig(name=name, stem="cifar", width=0.25), AttentionDesign(type=preset), 10, 1)
        with torch.no_grad():
            logits = model.eval()(torch.randn(2, 1, 8, 8))
        assert logits.shape == (2, 10) and torch.isfinite(logits).all(), preset


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "vgg11_bn", "mobilenet_v1"])
def test_identity_designs_give_exactly_the_plain_backbone(name: str) -> None:
    plain = _meta_model(name, "none")
    switched_off = AttentionDesign(type="bam", channel=False, spatial=False)
    with torch.device("meta"):
        off = build_model(BackboneConfig(name=name), switched_off, num_classes=1000)
    assert {k: v.shape for k, v in plain.state_dict().items()} == {k: v.shape for k, v in off.state_dict().items()}
    assert len(list(plain.modules())) == len(list(off.modules()))
    assert not any(isinstance(module, Attention) for module in off.modules())
    assert _params(off) == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize(
    ("name", "placement", "channels"),
    [
        ("resnet18", "block", [16, 16, 32, 32, 64, 64, 128, 128]),
        ("resnet18", "stage", [16, 32, 64]),
        ("resnet50", "block", [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3),
        ("resnet50", "stage", [64, 128, 256]),
        ("vgg11_bn", "block", [16, 32, 64, 64, 128, 128, 128, 128]),
        ("vgg11_bn", "stage", [16, 32, 64, 128]),
        ("mobilenet_v1", "block", [16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256]),
        ("mobilenet_v1", "stage", [16, 32, 64, 128]),
    ],
)
def test_attention_sites_per_placement(name: str, placement: str, channels: list[int]) -> None:
    model = _meta_model(name, "cbam", width=0.25) if placement == "block" else _meta_model(name, "bam", width=0.25)
    assert _attention_channels(model) == channels


def test_stage_attention_sits_at_the_end_of_stages_1_to_3() -> None:
    model = _meta_model("resnet50", "bam")
    for index, layer in enumerate((model.layer1, model.layer2, model.layer3, model.layer4)):
        assert isinstance(layer[-1], Attention) == (index < 3)
        assert all(isinstance(block, Bottleneck) for block in layer[:-1])


class _Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def test_block_attention_acts_on_the_residual_branch_before_the_addition() -> None:
    """A gate that zeros its input leaves only the identity path: the block outputs relu(x)."""
    x = torch.randn(2, 16, 5, 5)
    basic = BasicBlock(16, 16, 1, None, _Zero())
    bottleneck = Bottleneck(16, 4, 1, None, _Zero(), groups=1, width_per_group=64, stride_on_conv1=True)
    for block in (basic, bottleneck):
        torch.testing.assert_close(block(x), torch.relu(x))


def test_stride_placement_v1_strides_the_first_1x1_and_v15_the_3x3() -> None:
    v1 = _meta_model("resnet50").layer2[0]
    v15 = _meta_model("resnet50", stride_placement="v1.5").layer2[0]
    assert (v1.conv1.stride, v1.conv2.stride) == ((2, 2), (1, 1))
    assert (v15.conv1.stride, v15.conv2.stride) == ((1, 1), (2, 2))


def test_stems() -> None:
    cifar, imagenet = _meta_model("resnet18", stem="cifar"), _meta_model("resnet18")
    assert (cifar.conv1.kernel_size, cifar.conv1.stride, type(cifar.maxpool)) == ((3, 3), (1, 1), nn.Identity)
    assert (imagenet.conv1.kernel_size, imagenet.conv1.stride, type(imagenet.maxpool)) == ((7, 7), (2, 2), nn.MaxPool2d)
    assert _meta_model("mobilenet_v1", stem="cifar").features[0][0].stride == (1, 1)
    assert _meta_model("mobilenet_v1").features[0][0].stride == (2, 2)
    vgg_cifar = _meta_model("vgg16_bn", stem="cifar")
    assert isinstance(vgg_cifar.classifier, nn.Linear) and vgg_cifar.classifier.in_features == 512


def test_width_scales_every_layer() -> None:
    half = _meta_model("resnet18", width=0.5)
    assert (half.conv1.out_channels, half.fc.in_features) == (32, 256)
    assert _meta_model("vgg16_bn", width=0.5).classifier[0].out_features == 2048
    assert _meta_model("mobilenet_v1", width=0.5).fc.in_features == 512


def test_widen_factor_and_groups() -> None:
    assert _meta_model("wide_resnet50").layer1[0].conv1.out_channels == 128
    assert _meta_model("wide_resnet50", widen_factor=3).layer1[0].conv1.out_channels == 192
    assert _meta_model("wide_resnet50", widen_factor=1.5).layer1[0].conv1.out_channels == 96
    wide18 = _meta_model("wide_resnet18", widen_factor=1.5)
    assert (wide18.conv1.out_channels, wide18.layer1[0].conv1.out_channels, wide18.fc.in_features) == (64, 96, 768)
    assert wide18.layer1[0].downsample is not None  # 64 -> 96 needs a projection into stage 1
    assert BackboneConfig(name="wide_resnet18").widen_factor == 2.0 and BackboneConfig().widen_factor is None
    resnext = _meta_model("resnext50_32x4d").layer1[0].conv2
    assert (resnext.groups, resnext.out_channels) == (32, 128)


def test_torchvision_init_and_attention_keeps_its_own() -> None:
    torch.manual_seed(0)
    model = build_model(BackboneConfig(name="resnet18"), AttentionDesign(type="cbam-official"), 1000)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d) and m.num_features > 1]
    assert all(torch.all(bn.weight == 1) and torch.all(bn.bias == 0) for bn in norms)  # no zero-init of last BN
    conv = model.layer4[1].conv2.weight
    assert conv.std().item() == pytest.approx(math.sqrt(2 / (512 * 9)), rel=0.05)  # kaiming normal, fan_out
    assert model.fc.weight.abs().max() <= 1 / math.sqrt(512)  # PyTorch's default Linear init, as torchvision
    spatial_norms = [m.spatial_gate.norm for m in model.modules() if isinstance(m, Attention)]
    assert len(spatial_norms) == 8 and all(torch.all(norm.weight == 0) for norm in spatial_norms)
    vgg = build_model(BackboneConfig(name="vgg11_bn", width=0.25), AttentionDesign(type="none"), 1000)
    assert vgg.classifier[-1].weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.all(vgg.classifier[-1].bias == 0)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "resnet20"}, "backbone.name"),
        ({"stem": "tiny"}, "backbone.stem"),
        ({"width": 0}, "backbone.width"),
        ({"width": -0.5}, "backbone.width"),
        ({"width": float("nan")}, "backbone.width"),
        ({"width": True}, "backbone.width"),
        ({"stride_placement": "v2"}, "backbone.stride_placement"),
        ({"widen_factor": 2}, "backbone.widen_factor"),
        ({"name": "wide_resnet18", "widen_factor": 0}, "backbone.widen_factor"),
        ({"name": "wide_resnet50", "widen_factor": "wide"}, "backbone.widen_factor"),
        ({"depth": 18}, "backbone.depth"),
    ],
)
def test_invalid_backbone_config_is_a_one_line_error(values: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        BackboneConfig.from_mapping(values)
    assert field in str(caught.value) and "\n" not in str(caught.value)


def test_unknown_backbone_lists_the_valid_names() -> None:
    with pytest.raises(ConfigError, match="resnext101_32x4d, vgg11_bn"):
        BackboneConfig(name="resnet20")


@pytest.mark.parametrize(
    ("field", "kwargs"), [("num_classes", {"num_classes": 0}), ("in_channels", {"in_channels": 0})]
)
def test_invalid_model_sizes(field: str, kwargs: dict[str, int]) -> None:
    arguments = {"num_classes": 10, "in_channels": 3} | kwargs
    with pytest.raises(ConfigError, match=f"model.{field}"):
        build_model(BackboneConfig(), AttentionDesign(), **arguments)


def test_reduction_too_large_for_a_narrow_backbone_fails_before_any_compute() -> None:
    with pytest.raises(ConfigError, match=r"attention\.reduction: 16 leaves no hidden channel for 8 input"):
        build_model(BackboneConfig(name="mobilenet_v1", width=0.125), AttentionDesign(), 10)
