"""The report's figures as inline SVG strings, so the HTML needs no files and no network.

Figures are drawn on bare ``matplotlib.figure.Figure`` objects (no pyplot state, no GUI backend),
which makes them safe to build from any process, including a headless worker.
"""

from __future__ import annotations

import io
import math
import re

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from attnlab.reports.spec import StudySpec

BASELINE_COLOUR = "#7f7f7f"
ROW_COLOUR = "#1f77b4"
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)


def _to_svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element with stable ids, without the XML prolog and the RDF metadata."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "attnlab", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return _METADATA.sub("", text[text.index("<svg") :])


def _error_bars(summary: pd.DataFrame, metric: str) -> np.ndarray:
    """Asymmetric interval half-widths (2 x rows); 0 where a row has no interval (fewer than 2 seeds)."""
    mean = summary[f"{metric}.mean"].to_numpy(dtype=float)
    low = mean - summary[f"{metric}.ci_low"].to_numpy(dtype=float)
    high = summary[f"{metric}.ci_high"].to_numpy(dtype=float) - mean
    return np.nan_to_num(np.vstack([low, high]))


def _colours(summary: pd.DataFrame) -> list[str]:
    """Grey for the rows others are compared with, blue for the rest."""
    is_baseline = summary["row"] == summary["baseline"]
    return [BASELINE_COLOUR if baseline else ROW_COLOUR for baseline in is_baseline]


def error_bar_chart(summary: pd.DataFrame, spec: StudySpec) -> str:
    """Each row's mean of the study metric with its 95% interval and n per bar.

    The paper's numbers stay in the table: they come from another dataset and recipe, and on one
    axis they would squash the differences between our rows.
    """
    metric = spec.metric
    figure = Figure(figsize=(max(4.5, 1.1 * len(summary) + 1.5), 3.8))
    axes = figure.add_subplot()
    positions = np.arange(len(summary))
    means = summary[f"{metric}.mean"].to_numpy(dtype=float)
    axes.bar(positions, np.nan_to_num(means), yerr=_error_bars(summary, metric), capsize=4, color=_colours(summary))
    known = np.concatenate([summary[f"{metric}.ci_low"], means, summary[f"{metric}.ci_high"]])
    known = known[np.isfinite(known)]
    if known.size:  # zoom on the data: the differences between rows are small next to the error itself
        span = max(float(known.max() - known.min()), 0.5)
        axes.set_ylim(max(0.0, float(known.min()) - 0.6 * span), float(known.max()) + 0.4 * span)
    for position, mean, n in zip(positions, means, summary[f"{metric}.n"], strict=True):
        label = "no complete cell" if math.isnan(mean) else f"n={int(n)}"
        axes.annotate(label, (position, axes.get_ylim()[0]), xytext=(0, 3), textcoords="offset points", ha="center")
    axes.set_xticks(positions, summary["row"], rotation=25, ha="right")
    axes.set_ylabel(f"{metric} (mean, 95% CI)")
    axes.set_title(f"{spec.name}: {metric} over seeds (grey: baseline)", fontsize="medium")
    return _to_svg(figure)


def _trade_off_panel(axes: Axes, x: np.ndarray, summary: pd.DataFrame, spec: StudySpec, x_label: str) -> None:
    metric = spec.metric
    mean = summary[f"{metric}.mean"].to_numpy(dtype=float)
    axes.errorbar(x, mean, yerr=_error_bars(summary, metric), fmt="none", ecolor="#444444", capsize=3)
    axes.scatter(x, mean, color=_colours(summary), zorder=3)
    for x_value, y_value, row in zip(x, mean, summary["row"], strict=True):
        if np.isfinite(x_value) and np.isfinite(y_value):
            axes.annotate(row, (x_value, y_value), xytext=(4, 4), textcoords="offset points", fontsize="x-small")
    axes.set_xlabel(x_label)
    axes.set_ylabel(f"{metric} (mean, 95% CI)")
    axes.grid(alpha=0.3)


def trade_off_chart(summary: pd.DataFrame, spec: StudySpec) -> str:
    """The study metric against parameters and against measured training-time overhead."""
    figure = Figure(figsize=(10, 4))
    params_axes, time_axes = figure.subplots(1, 2, sharey=True)
    params = summary["params"].to_numpy(dtype=float) / 1e6
    overhead = (summary["time_ratio"].to_numpy(dtype=float) - 1) * 100
    _trade_off_panel(params_axes, params, summary, spec, "parameters (M)")
    _trade_off_panel(time_axes, overhead, summary, spec, "training time overhead vs baseline (%)")
    time_axes.set_ylabel("")  # shared with the left panel
    figure.suptitle(f"{spec.name}: {spec.metric} against cost", fontsize="medium")
    return _to_svg(figure)
