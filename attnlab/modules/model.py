"""build_model: a backbone with an attention design in it, the one network every part of attnlab trains."""

from __future__ import annotations

from torch import nn

from attnlab.modules.backbones import AttentionPlacer, BackboneConfig, build_backbone
from attnlab.modules.backbones.init import init_stream
from attnlab.modules.design import AttentionDesign
from attnlab.modules.validation import positive_int


def build_model(
    backbone: BackboneConfig,
    attention: AttentionDesign,
    num_classes: int,
    in_channels: int = 3,
    *,
    init_seed: int | None = None,
) -> nn.Module:
    """Map (N, ``in_channels``, H, W) to (N, ``num_classes``) logits; any H, W (global average pooling).

    An ``is_identity`` design gives exactly the plain backbone (same modules, same parameters). A design whose
    reduction leaves no hidden channel at some site fails here with a one-line ``ConfigError``.

    ``init_seed`` gives common random numbers: the backbone's parameters come from stream ``(init_seed,
    "backbone")`` and each attention module's from its own, so every design of one seed starts from the same
    backbone weights, and torch's global RNG is left untouched. ``None`` draws everything from the global RNG in
    construction order (a gate then shifts the init of every layer built after it).
    """
    positive_int("model.num_classes", num_classes)
    positive_int("model.in_channels", in_channels)
    with init_stream(init_seed, "backbone"):
        return build_backbone(backbone, AttentionPlacer(attention, init_seed), num_classes, in_channels)
