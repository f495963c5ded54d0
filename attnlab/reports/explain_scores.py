"""How well a map points at the object: the share of its energy inside the object's boxes, and the pointing game.

Energy share: Σ map inside ÷ Σ map, in %. Pointing game (Zhang et al., without tolerance): 100 if the map's
maximum (its first, in row-major order) lies inside a box, else 0. A map that is 0 everywhere points nowhere:
both are NaN and that image is left out of its cell's mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from attnlab.datamodules.samples import Box


def box_mask(boxes: Sequence[Box], height: int, width: int) -> Tensor:
    """H×W boolean mask of the pixels inside any of ``boxes`` (x0, y0, x1, y1; ends exclusive)."""
    mask = torch.zeros(height, width, dtype=torch.bool)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = True
    return mask


def energy_in_box(heat: Tensor, mask: Tensor) -> float:
    """Share (%) of a non-negative H×W map's sum that lies inside ``mask``; NaN for an all-zero map."""
    total = float(heat.sum())
    return math.nan if total <= 0 else 100.0 * float(heat[mask].sum()) / total


def pointing_hit(heat: Tensor, mask: Tensor) -> float:
    """100 if the H×W map's maximum lies inside ``mask``, 0 if not; NaN for an all-zero map."""
    if float(heat.max()) <= 0:
        return math.nan
    return 100.0 if bool(mask.flatten()[int(heat.flatten().argmax())]) else 0.0
