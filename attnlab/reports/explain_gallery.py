"""The paper's figure: one column per image, one row per design, each cell a heat map over the input.

Drawn on a bare ``matplotlib.figure.Figure`` (no pyplot state, no GUI backend) into PNG bytes, which the
command writes as a file and the HTML report embeds.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from attnlab.datamodules.samples import Box

CELL_INCHES = 1.35
DPI = 100
BOX_COLOUR = "#00e000"
HEAT_ALPHA = 0.5


@dataclass(frozen=True)
class GalleryRow:
    """One row of the figure: its label, N×H×W maps (any range; each is scaled to its own maximum), and a
    title per image (the target-class probability and whether the prediction is right), or none."""

    label: str
    maps: torch.Tensor
    titles: Sequence[str] | None = None


def _picture(picture: torch.Tensor) -> tuple[np.ndarray, str | None]:
    """A C×H×W picture in [0, 1] as what ``imshow`` takes, grey for one channel."""
    if picture.shape[0] == 1:
        return picture[0].numpy(), "gray"
    return picture.permute(1, 2, 0).clamp(0, 1).numpy(), None


def draw_gallery(
    pictures: torch.Tensor,
    column_titles: Sequence[str],
    rows: Sequence[GalleryRow],
    boxes: Sequence[Sequence[Box]] | None = None,
) -> bytes:
    """PNG bytes of the grid: pictures N×C×H×W in [0, 1], each row's maps over them, object boxes outlined."""
    count = pictures.shape[0]
    figure = Figure(figsize=(CELL_INCHES * count + 1.6, CELL_INCHES * len(rows) + 0.5), dpi=DPI)
    grid = figure.subplots(len(rows), count, squeeze=False)
    for row_index, row in enumerate(rows):
        for column in range(count):
            axes = grid[row_index, column]
            pixels, colour_map = _picture(pictures[column])
            axes.imshow(pixels, cmap=colour_map, vmin=0.0, vmax=1.0, interpolation="nearest")
            heat = row.maps[column].float()
            peak = float(heat.max())
            axes.imshow((heat / peak if peak > 0 else heat).numpy(), cmap="jet", alpha=HEAT_ALPHA, vmin=0, vmax=1)
            for x0, y0, x1, y1 in boxes[column] if boxes is not None else ():
                axes.add_patch(
                    Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=BOX_COLOUR, linewidth=1.2)
                )
            axes.set_xticks([])
            axes.set_yticks([])
            if row.titles is not None:
                axes.set_title(row.titles[column], fontsize=7, pad=2)
            if row_index == 0:
                axes.text(0.5, 1.28, column_titles[column], transform=axes.transAxes, ha="center", fontsize=7)
            if column == 0:
                axes.set_ylabel(row.label, fontsize=7, rotation=0, ha="right", va="center", wrap=True)
    figure.subplots_adjust(left=1.6 / figure.get_figwidth(), right=0.99, top=0.92, bottom=0.02, hspace=0.35)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
