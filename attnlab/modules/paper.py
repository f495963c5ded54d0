"""The CBAM paper's cost table (Woo et al. 2018, Table 4 columns params / GFLOPs) and our numbers beside it.

Counting that reproduces every entry exactly is the evidence that the backbones and gates are the paper's: ResNet
v1 (stride on the first 1×1 of a downsampling bottleneck), 224×224, 1000 classes, r = 16, biased MLP run once per
pooled descriptor, 7×7 spatial conv. The paper's "GFLOPs" are multiply-accumulates.
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


CBAM_PAPER_TABLE: tuple[PaperRow, ...] = (
    PaperRow("ResNet-18", "resnet18", "none", 11.69, 1.814),
    PaperRow("ResNet-18 + SE", "resnet18", "se", 11.78, 1.814),
    PaperRow("ResNet-18 + CBAM", "resnet18", "cbam", 11.78, 1.815),
    PaperRow("ResNet-50", "resnet50", "none", 25.56, 3.858),
    PaperRow("ResNet-50 + SE", "resnet50", "se", 28.09, 3.860),
    PaperRow("ResNet-50 + CBAM", "resnet50", "cbam", 28.09, 3.864),
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
                BackboneConfig(name=row.backbone, stem="imagenet", stride_placement="v1"),
                AttentionDesign(type=row.attention, reduction=16),
                num_classes=1000,
                in_channels=3,
                image_size=224,
            ),
        )
        for row in CBAM_PAPER_TABLE
    ]
