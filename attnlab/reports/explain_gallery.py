"""The paper's figure: one column per image, one row per design, each cell a heat map over the input.

The grid is composed as one RGB mosaic (picture blended with the map's colours) and drawn in a single
``matplotlib`` axes with its labels and box outlines: a figure of 8 × 16 cells renders in well under a second,
where one axes per cell would take many. Bare ``Figure`` (no pyplot state, no GUI backend), PNG bytes out.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from attnlab.datamodules.samples import Box

BOX_COLOUR = "#00e000"
HEAT_ALPHA = 0.5
GAP = 0.12  # space between cells, in cells
CELL_INCHES = 1.3
LABEL_INCHES = 1.8
TITLE_INCHES = 0.3  # above the grid, for the column titles
DPI = 100


@dataclass(frozen=True)
class GalleryRow:
    """One row of the figure: its label, N×H×W maps (any range; each is scaled to its own range), and a
    title per image (the target-class probability and whether the prediction is right), or none."""

    label: str
    maps: torch.Tensor
    titles: Sequence[str] | None = None


def _rgb(pictures: torch.Tensor) -> np.ndarray:
    """N×C×H×W pictures in [0, 1] as N×H×W×3 (grey repeated for one channel)."""
    rgb = pictures.float().clamp(0, 1).permute(0, 2, 3, 1).numpy()
    return np.repeat(rgb, 3, axis=-1) if rgb.shape[-1] == 1 else rgb


def _overlay(picture: np.ndarray, heat: torch.Tensor) -> np.ndarray:
    """The picture with the map (scaled from its minimum to its maximum) blended over it in the jet colours."""
    low, spread = float(heat.min()), float(heat.max() - heat.min())
    scaled = ((heat - low) / spread if spread > 0 else heat - low).float().numpy()
    colours = matplotlib.colormaps["jet"](scaled)[..., :3]
    return (1 - HEAT_ALPHA) * picture + HEAT_ALPHA * colours


def draw_gallery(
    pictures: torch.Tensor,
    column_titles: Sequence[str],
    rows: Sequence[GalleryRow],
    boxes: Sequence[Sequence[Box]] | None = None,
) -> bytes:
    """PNG bytes of the grid: pictures N×C×H×W in [0, 1], each row's maps over them, object boxes outlined."""
    rgb = _rgb(pictures)
    count, height, width = rgb.shape[:3]
    gap_y, gap_x = round(GAP * height * 2.2), round(GAP * width)  # room for a title above each cell
    step_y, step_x = height + gap_y, width + gap_x
    mosaic = np.ones((len(rows) * step_y, count * step_x - gap_x, 3))
    for row_index, row in enumerate(rows):
        for column in range(count):
            top, left = row_index * step_y + gap_y, column * step_x
            mosaic[top : top + height, left : left + width] = _overlay(rgb[column], row.maps[column])
    image_width = CELL_INCHES * count
    image_height = image_width * mosaic.shape[0] / mosaic.shape[1]
    figure_width, figure_height = LABEL_INCHES + image_width + 0.1, TITLE_INCHES + image_height + 0.05
    figure = Figure(figsize=(figure_width, figure_height), dpi=DPI)
    axes = figure.add_axes(
        (LABEL_INCHES / figure_width, 0.05 / figure_height, image_width / figure_width, image_height / figure_height)
    )
    axes.imshow(mosaic, interpolation="nearest", aspect="equal")
    axes.set_axis_off()
    for column, title in enumerate(column_titles):
        axes.text(column * step_x + width / 2, -0.5, title, ha="center", va="bottom", fontsize=8)
    for row_index, row in enumerate(rows):
        top = row_index * step_y + gap_y
        axes.text(-gap_x, top + height / 2, row.label, ha="right", va="center", fontsize=8)
        for column in range(count):
            left = column * step_x
            if row.titles is not None:
                axes.text(left + width / 2, top - 0.5, row.titles[column], ha="center", va="bottom", fontsize=7)
            for x0, y0, x1, y1 in boxes[column] if boxes is not None else ():
                corner = (left + x0 - 0.5, top + y0 - 0.5)
                axes.add_patch(Rectangle(corner, x1 - x0, y1 - y0, fill=False, edgecolor=BOX_COLOUR, linewidth=1.2))
    buffer = io.BytesIO()
    # "tight" grows the canvas to hold every label: long row names would otherwise be cut at the left edge.
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.05, metadata={"Software": None})
    return buffer.getvalue()
