"""ResNet, Wide ResNet and ResNeXt with torchvision's structure and names (so torchvision weights load when the
attention adds no module), plus the v1 / v1.5 stride placement and attention sites.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from attnlab.modules.backbones.config import BackboneConfig
from attnlab.modules.backbones.init import init_backbone_weights
from attnlab.modules.backbones.placement import AttentionPlacer


class _ResidualBlock(nn.Module):
    """What every residual block ends with: attention on the branch, then ``+= identity`` and the ReLU."""

    attention: nn.Module | None
    downsample: nn.Module | None
    relu: nn.ReLU

    def _merge(self, branch: Tensor, x: Tensor) -> Tensor:
        if self.attention is not None:
            branch = self.attention(branch)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(branch + identity)


class BasicBlock(_ResidualBlock):
    """Two 3×3 convs (ResNet-18/34); the stride sits on the first."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int, downsample: nn.Module | None, attention: nn.Module | None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.attention = attention

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self._merge(self.bn2(self.conv2(out)), x)


class Bottleneck(_ResidualBlock):
    """1×1 reduce, 3×3 (grouped for ResNeXt), 1×1 expand ×4; ``stride_on_conv1`` is v1, else v1.5."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int,
        downsample: nn.Module | None,
        attention: nn.Module | None,
        *,
        groups: int,
        width_per_group: int,
        stride_on_conv1: bool,
    ) -> None:
        super().__init__()
        width = max(1, int(planes * width_per_group / 64)) * groups
        stride1, stride2 = (stride, 1) if stride_on_conv1 else (1, stride)
        self.conv1 = nn.Conv2d(inplanes, width, 1, stride=stride1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride2, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.attention = attention

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self._merge(self.bn3(self.conv3(out)), x)


@dataclass(frozen=True)
class ResNetSpec:
    """One member of the family: block type, blocks per stage, and the bottleneck's grouped width."""

    bottleneck: bool
    layers: tuple[int, int, int, int]
    groups: int = 1
    width_per_group: int = 64
    # Wide ResNet: a bottleneck's width_per_group is 64 × BackboneConfig.widen_factor; basic blocks widen the stages.
    wide: bool = False


RESNET_SPECS: dict[str, ResNetSpec] = {
    "resnet18": ResNetSpec(bottleneck=False, layers=(2, 2, 2, 2)),
    "resnet34": ResNetSpec(bottleneck=False, layers=(3, 4, 6, 3)),
    "resnet50": ResNetSpec(bottleneck=True, layers=(3, 4, 6, 3)),
    "resnet101": ResNetSpec(bottleneck=True, layers=(3, 4, 23, 3)),
    "resnet152": ResNetSpec(bottleneck=True, layers=(3, 8, 36, 3)),
    "wide_resnet18": ResNetSpec(bottleneck=False, layers=(2, 2, 2, 2), wide=True),
    "wide_resnet50": ResNetSpec(bottleneck=True, layers=(3, 4, 6, 3), wide=True),
    "wide_resnet101": ResNetSpec(bottleneck=True, layers=(3, 4, 23, 3), wide=True),
    "resnext50_32x4d": ResNetSpec(bottleneck=True, layers=(3, 4, 6, 3), groups=32, width_per_group=4),
    "resnext101_32x4d": ResNetSpec(bottleneck=True, layers=(3, 4, 23, 3), groups=32, width_per_group=4),
}

BlockFactory = Callable[[int, int, int, nn.Module | None, nn.Module | None], nn.Module]


class ResNet(nn.Module):
    """Stem, four stages (64, 128, 256, 512 planes × width), global average pool, ``fc``."""

    def __init__(self, config: BackboneConfig, placer: AttentionPlacer, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        spec = RESNET_SPECS[config.name]
        self.inplanes = config.channels(64)
        if config.stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, 7, stride=2, padding=3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        block, expansion = self._block_factory(spec, config)
        # WideResNet-18 (CBAM paper, Table 4): the stages widen, the stem stays at 64.
        stage_widen = config.widen_factor if spec.wide and not spec.bottleneck else 1.0
        planes = [config.channels(published * stage_widen) for published in (64, 128, 256, 512)]
        self.layer1 = self._make_stage(block, expansion, planes[0], spec.layers[0], 1, placer, last=False)
        self.layer2 = self._make_stage(block, expansion, planes[1], spec.layers[1], 2, placer, last=False)
        self.layer3 = self._make_stage(block, expansion, planes[2], spec.layers[2], 2, placer, last=False)
        self.layer4 = self._make_stage(block, expansion, planes[3], spec.layers[3], 2, placer, last=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes[3] * expansion, num_classes)
        init_backbone_weights(self, linear_std=None)

    @staticmethod
    def _block_factory(spec: ResNetSpec, config: BackboneConfig) -> tuple[BlockFactory, int]:
        if not spec.bottleneck:
            return BasicBlock, BasicBlock.expansion
        width_per_group = spec.width_per_group * (config.widen_factor if spec.wide else 1)
        bottleneck = functools.partial(
            Bottleneck,
            groups=spec.groups,
            width_per_group=width_per_group,
            stride_on_conv1=config.stride_placement == "v1",
        )
        return bottleneck, Bottleneck.expansion

    def _make_stage(
        self,
        block: BlockFactory,
        expansion: int,
        planes: int,
        blocks: int,
        stride: int,
        placer: AttentionPlacer,
        last: bool,
    ) -> nn.Sequential:
        outplanes = planes * expansion
        downsample = None
        if stride != 1 or self.inplanes != outplanes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, outplanes, 1, stride=stride, bias=False), nn.BatchNorm2d(outplanes)
            )
        layers = [block(self.inplanes, planes, stride, downsample, placer.block(outplanes))]
        layers += [block(outplanes, planes, 1, None, placer.block(outplanes)) for _ in range(1, blocks)]
        self.inplanes = outplanes
        layers += placer.after_stage(outplanes, last_stage=last)
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
