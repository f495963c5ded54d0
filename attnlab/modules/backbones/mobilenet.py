"""MobileNet v1 (Howard et al. 2017) with its width multiplier, in ``torch.nn`` only."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnlab.modules.backbones.config import BackboneConfig
from attnlab.modules.backbones.init import init_backbone_weights
from attnlab.modules.backbones.layers import conv_bn_relu
from attnlab.modules.backbones.placement import AttentionPlacer

# (output channels, stride) of the 13 depthwise-separable blocks after the 32-channel stem conv.
MOBILENET_V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    *((512, 1),) * 5,
    (1024, 2),
    (1024, 1),
)


class MobileNetV1(nn.Module):
    """Stem conv 3×3 (stride 2, or 1 with the ``cifar`` stem), 13 depthwise-separable blocks, pool, ``fc``."""

    def __init__(self, config: BackboneConfig, placer: AttentionPlacer, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        channels = config.channels(32)
        stem_stride = 2 if config.stem == "imagenet" else 1
        layers: list[nn.Module] = [nn.Sequential(*conv_bn_relu(in_channels, channels, stride=stem_stride))]
        next_strides = [stride for _, stride in MOBILENET_V1_BLOCKS[1:]] + [1]  # none after the last block
        for (published, stride), next_stride in zip(MOBILENET_V1_BLOCKS, next_strides, strict=True):
            out = config.channels(published)
            depthwise = conv_bn_relu(channels, channels, stride=stride, groups=channels)
            pointwise = conv_bn_relu(channels, out, kernel_size=1, attention=placer.block(out))
            layers.append(nn.Sequential(*depthwise, *pointwise))
            if next_stride == 2:  # a stage ends where the next block downsamples
                layers += placer.after_stage(out, last_stage=False)
            channels = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_backbone_weights(self, linear_std=0.01)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))
