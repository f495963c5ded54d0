"""The CBAM paper's cost table (Woo et al. 2018, Table 4 columns params / GFLOPs) and our numbers beside it.

Counting that reproduces every entry exactly is the evidence that the backbones and gates are the paper's: ResNet
v1 (stride on the first 1×1 of a downsampling bottleneck), 224×224, 1000 classes, r = 16, biased MLP run once per
pooled descriptor, 7×7 spatial conv; WideResNet-18 widens the four stages and keeps the 64-channel stem. The
paper's "GFLOPs" are multiply-accumulates.
"""

from __future__ import annotations

from dataclasses import dataclass

from attnlab.modules.backbones import BackboneConfig
from attnlab.modules.counting import CostReport, model_cost
from attnlab.modules.design import AttentionDesign

PAPER_SETTING = "ImageNet-1K, 224×224, 1000 classes, ResNet v1, r = 16"


@dataclass(frozen=True)
class PaperRow:
    """One row as printed in the paper: params in millions (2 decimals), GMACs (3 decimals)."""

    architecture: str
    backbone: str
    attention: str
    params_m: float
    gmacs: float
    widen_factor: float | None = None


def _family(
    architecture: str, backbone: str, costs: tuple[tuple[float, float], ...], widen: float | None = None
) -> tuple[PaperRow, ...]:
    """The paper's three rows of one backbone: plain, + SE, + CBAM."""
    names = (architecture, f"{architecture} + SE", f"{architecture} + CBAM")
    return tuple(
        PaperRow(name, backbone, attention, params, gmacs, widen)
        for name, attention, (params, gmacs) in zip(names, ("none", "se", "cbam"), costs, strict=True)
    )


# Table 4 of Woo et al. 2018 (arXiv 1807.06521), all 24 rows: (params M, GFLOPs) for plain, + SE, + CBAM.
CBAM_PAPER_TABLE: tuple[PaperRow, ...] = (
    *_family("ResNet-18", "resnet18", ((11.69, 1.814), (11.78, 1.814), (11.78, 1.815))),
    *_family("ResNet-34", "resnet34", ((21.80, 3.664), (21.96, 3.664), (21.96, 3.665))),
    *_family("ResNet-50", "resnet50", ((25.56, 3.858), (28.09, 3.860), (28.09, 3.864))),
    *_family("ResNet-101", "resnet101", ((44.55, 7.570), (49.33, 7.575), (49.33, 7.581))),
    *_family("WideResNet-18 (widen=1.5)", "wide_resnet18", ((25.88, 3.866), (26.07, 3.867), (26.08, 3.868)), 1.5),
    *_family("WideResNet-18 (widen=2.0)", "wide_resnet18", ((45.62, 6.696), (45.97, 6.696), (45.97, 6.697)), 2.0),
    *_family("ResNeXt-50 (32x4d)", "resnext50_32x4d", ((25.03, 3.768), (27.56, 3.771), (27.56, 3.774))),
    *_family("ResNeXt-101 (32x4d)", "resnext101_32x4d", ((44.18, 7.508), (48.96, 7.512), (48.96, 7.519))),
)


@dataclass(frozen=True)
class PaperComparison:
    """A paper row and what attnlab counts for the same network."""

    row: PaperRow
    cost: CostReport

    @property
    def params_m(self) -> float:
        """Our parameter count at the paper's precision."""
        return round(self.cost.params / 1e6, 2)

    @property
    def gmacs(self) -> float:
        """Our GMACs at the paper's precision."""
        return round(self.cost.gmacs, 3)

    @property
    def matches(self) -> bool:
        return self.params_m == self.row.params_m and self.gmacs == self.row.gmacs


def compare_with_paper() -> list[PaperComparison]:
    """Count every network of the table in the paper's setting (on the meta device: well under a second each)."""
    return [
        PaperComparison(
            row,
            model_cost(
                BackboneConfig(
                    name=row.backbone, stem="imagenet", stride_placement="v1", widen_factor=row.widen_factor
                ),
                AttentionDesign(type=row.attention, reduction=16),
                num_classes=1000,
                in_channels=3,
                image_size=224,
            ),
        )
        for row in CBAM_PAPER_TABLE
    ]
