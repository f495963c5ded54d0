"""BackboneConfig: which CNN the attention goes into, validated before anything is built."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from attnlab.errors import ConfigError
from attnlab.modules.validation import one_of

RESNET_NAMES: tuple[str, ...] = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet18",
    "wide_resnet50",
    "wide_resnet101",
    "resnext50_32x4d",
    "resnext101_32x4d",
)
VGG_NAMES: tuple[str, ...] = ("vgg11_bn", "vgg16_bn", "vgg19_bn")
BACKBONE_NAMES: tuple[str, ...] = (*RESNET_NAMES, *VGG_NAMES, "mobilenet_v1")
STEMS: tuple[str, ...] = ("imagenet", "cifar")
STRIDE_PLACEMENTS: tuple[str, ...] = ("v1", "v1.5")
WIDE_NAMES: tuple[str, ...] = ("wide_resnet18", "wide_resnet50", "wide_resnet101")
DEFAULT_WIDEN_FACTOR = 2.0


@dataclass(frozen=True)
class BackboneConfig:
    """The backbone: architecture, stem, width multiplier and the ResNet variant knobs.

    ``stem="cifar"`` swaps the 7×7/2 conv + max-pool for a 3×3/1 conv (ResNet), the first stride 2 for 1
    (MobileNet), or the 7×7×4096 classifier for global pooling + one Linear (VGG), so 32×32 and smaller inputs keep
    useful resolution. ``stride_placement`` is ResNet's: ``v1`` strides the first 1×1 of a downsampling bottleneck
    (the papers' tables), ``v1.5`` its 3×3 (torchvision, the released code). ``widen_factor`` (any number > 0, 2
    when left out) widens ``wide_resnet*`` only: the bottleneck width of ``wide_resnet50/101`` (torchvision), the four
    stages of ``wide_resnet18`` (the CBAM paper's WideResNet-18: stem kept at 64, a 1×1 projection into stage 1;
    widen 1.5 gives the paper's 25.88M parameters). Any other backbone refuses it.
    """

    name: str = "resnet18"
    stem: Literal["imagenet", "cifar"] = "imagenet"
    width: float = 1.0
    stride_placement: Literal["v1", "v1.5"] = "v1"
    widen_factor: float | None = None

    def __post_init__(self) -> None:
        one_of("backbone.name", self.name, BACKBONE_NAMES)
        one_of("backbone.stem", self.stem, STEMS)
        one_of("backbone.stride_placement", self.stride_placement, STRIDE_PLACEMENTS)
        width = self.width
        if isinstance(width, bool) or not isinstance(width, int | float) or not math.isfinite(width) or width <= 0:
            raise ConfigError(f"backbone.width: must be a number > 0 (1.0 is the published network), got {width!r}")
        object.__setattr__(self, "width", float(width))
        self._resolve_widen_factor()

    def _resolve_widen_factor(self) -> None:
        widen = self.widen_factor
        if self.name not in WIDE_NAMES:
            if widen is not None:
                raise ConfigError(
                    f"backbone.widen_factor: only applies to {', '.join(WIDE_NAMES)} (got name={self.name!r}); "
                    f"use backbone.width to scale this one"
                )
            return
        widen = DEFAULT_WIDEN_FACTOR if widen is None else widen
        if (
            isinstance(widen, bool)
            or not isinstance(widen, int | float)
            or not math.isfinite(widen)
            or not 0 < widen <= 16
        ):
            raise ConfigError(
                f"backbone.widen_factor: must be a number > 0 and <= 16 (1.5 and 2 in the papers), got {widen!r}"
            )
        object.__setattr__(self, "widen_factor", float(widen))

    def channels(self, published: int) -> int:
        """A layer's channel count under the width multiplier (at least 1)."""
        return max(1, round(published * self.width))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> BackboneConfig:
        """Build from a plain mapping (YAML, JSON), naming any unknown key in the error."""
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"backbone.{unknown[0]}: unknown field; valid fields are {', '.join(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return dataclasses.asdict(self)
