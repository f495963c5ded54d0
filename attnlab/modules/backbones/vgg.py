"""VGG with batch norm (configurations A, D, E), torchvision's layout and init."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnlab.modules.backbones.config import BackboneConfig
from attnlab.modules.backbones.init import init_backbone_weights
from attnlab.modules.backbones.layers import conv_bn_relu
from attnlab.modules.backbones.placement import AttentionPlacer

# Output channels of the 3×3 convs, one tuple per stage; every stage ends with a 2×2 max-pool.
VGG_STAGES: dict[str, tuple[tuple[int, ...], ...]] = {
    "vgg11_bn": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "vgg16_bn": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "vgg19_bn": ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}


class VGG(nn.Module):
    """``features`` (conv-BN-ReLU units, max-pools), ``avgpool``, ``classifier``.

    ``imagenet`` stem: torchvision's head, adaptive pool to 7×7 then 4096-4096 (× width) with dropout.
    ``cifar`` stem: the usual CIFAR head, global average pool then one Linear. Max-pools use ``ceil_mode`` so a
    1×1 map stays 1×1 (8×8 inputs survive five pools); at sizes divisible by 32 that equals torchvision.
    """

    def __init__(self, config: BackboneConfig, placer: AttentionPlacer, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        stages = VGG_STAGES[config.name]
        layers: list[nn.Module] = []
        channels = in_channels
        for index, stage in enumerate(stages):
            for published in stage:
                out = config.channels(published)
                layers += conv_bn_relu(channels, out, bias=True, attention=placer.block(out))
                channels = out
            layers += placer.after_stage(channels, last_stage=index == len(stages) - 1)
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        if config.stem == "imagenet":
            hidden = config.channels(4096)
            self.avgpool = nn.AdaptiveAvgPool2d(7)
            self.classifier: nn.Module = nn.Sequential(
                nn.Linear(channels * 7 * 7, hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(),
                nn.Linear(hidden, hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(),
                nn.Linear(hidden, num_classes),
            )
        else:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(channels, num_classes)
        init_backbone_weights(self, linear_std=0.01)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))
