"""The CNNs the attention goes into: ResNet family (incl. Wide ResNet, ResNeXt), VGG-BN and MobileNet v1."""

from __future__ import annotations

from torch import nn

from attnlab.modules.backbones.config import BACKBONE_NAMES, RESNET_NAMES, VGG_NAMES, BackboneConfig
from attnlab.modules.backbones.mobilenet import MobileNetV1
from attnlab.modules.backbones.placement import AttentionPlacer
from attnlab.modules.backbones.resnet import ResNet
from attnlab.modules.backbones.vgg import VGG

BACKBONE_CLASSES: dict[str, type[ResNet | VGG | MobileNetV1]] = {
    **dict.fromkeys(RESNET_NAMES, ResNet),
    **dict.fromkeys(VGG_NAMES, VGG),
    "mobilenet_v1": MobileNetV1,
}


def build_backbone(config: BackboneConfig, placer: AttentionPlacer, num_classes: int, in_channels: int) -> nn.Module:
    """The network ``config.name`` with attention wherever ``placer`` puts it."""
    return BACKBONE_CLASSES[config.name](config, placer, num_classes, in_channels)


__all__ = ["BACKBONE_CLASSES", "BACKBONE_NAMES", "AttentionPlacer", "BackboneConfig", "build_backbone"]
