"""build_model: a backbone with an attention design in it, the one network every part of attnlab trains."""

from __future__ import annotations

from torch import nn

from attnlab.modules.backbones import AttentionPlacer, BackboneConfig, build_backbone
from attnlab.modules.design import AttentionDesign
from attnlab.modules.validation import positive_int


def build_model(
    backbone: BackboneConfig, attention: AttentionDesign, num_classes: int, in_channels: int = 3
) -> nn.Module:
    """Map (N, ``in_channels``, H, W) to (N, ``num_classes``) logits; any H, W (global average pooling).

    An ``is_identity`` design gives exactly the plain backbone (same modules, same parameters). A design whose
    reduction leaves no hidden channel at some site fails here with a one-line ``ConfigError``.
    """
    positive_int("model.num_classes", num_classes)
    positive_int("model.in_channels", in_channels)
    return build_backbone(backbone, AttentionPlacer(attention), num_classes, in_channels)
