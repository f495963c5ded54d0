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
from attnlab.stats.comparisons import seed_interval
from attnlab.stats.effects import Effect

BASELINE_COLOUR = "#7f7f7f"
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")  # rows told apart by marker and colour, in a legend
ROW_COLOUR = "#1f77b4"
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)


def to_png(figure: Figure) -> bytes:
    """The figure as PNG bytes (for the report folder's per-figure files)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def to_svg(figure: Figure) -> str:
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


def error_bar_chart(summary: pd.DataFrame, spec: StudySpec) -> Figure:
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
    return figure


def _trade_off_panel(axes: Axes, x: np.ndarray, summary: pd.DataFrame, spec: StudySpec, x_label: str) -> None:
    metric = spec.metric
    mean = summary[f"{metric}.mean"].to_numpy(dtype=float)
    axes.errorbar(x, mean, yerr=_error_bars(summary, metric), fmt="none", ecolor="#444444", capsize=3)
    for index, (x_value, y_value, row) in enumerate(zip(x, mean, summary["row"], strict=True)):
        marker, colour = _MARKERS[index % len(_MARKERS)], f"C{index % 10}"
        axes.scatter([x_value], [y_value], color=colour, marker=marker, zorder=3, label=row)
    axes.set_xlabel(x_label)
    axes.set_ylabel(f"{metric} (mean, 95% CI)")
    axes.grid(alpha=0.3)


def trade_off_chart(summary: pd.DataFrame, spec: StudySpec) -> Figure:
    """The study metric against parameters and against measured training-time overhead."""
    figure = Figure(figsize=(11, 4), layout="constrained")
    params_axes, time_axes = figure.subplots(1, 2, sharey=True)
    params = summary["params"].to_numpy(dtype=float) / 1e6
    overhead = (summary["time_ratio"].to_numpy(dtype=float) - 1) * 100
    _trade_off_panel(params_axes, params, summary, spec, "parameters (M)")
    _trade_off_panel(time_axes, overhead, summary, spec, "training time overhead vs baseline (%)")
    time_axes.set_ylabel("")  # shared with the left panel
    handles, labels = params_axes.get_legend_handles_labels()  # a legend: row labels never overlap the points
    figure.legend(handles, labels, loc="outside right center", fontsize="small", title="row")
    figure.suptitle(f"{spec.name}: {spec.metric} against cost", fontsize="medium")
    return figure


def forest_plot(summary: pd.DataFrame, spec: StudySpec, margin: float | None = None) -> Figure:
    """Each compared row's paired difference to its baseline with its 95% interval: what the verdicts rest on.

    The zero line is "no difference"; the MDD ticks show how large a true difference these seeds would
    detect; the ±δ band (``--margin``) is where a row counts as equivalent.
    """
    compared = summary[summary["row"] != summary["baseline"]].reset_index(drop=True)
    figure = Figure(figsize=(8, 0.55 * max(len(compared), 1) + 1.8), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(compared))[::-1]
    diff = compared["paired.diff"].to_numpy(dtype=float)
    low = diff - compared["paired.ci_low"].to_numpy(dtype=float)
    high = compared["paired.ci_high"].to_numpy(dtype=float) - diff
    if margin is not None:
        axes.axvspan(-margin, margin, color="#2ca02c", alpha=0.12, label=f"equivalence band ±{margin:g}")
    axes.axvline(0, color="#333333", linewidth=1)
    axes.errorbar(diff, positions, xerr=np.nan_to_num(np.vstack([low, high])), fmt="o", color=ROW_COLOUR, capsize=4)
    axes.errorbar([], [], xerr=[], fmt="o", color=ROW_COLOUR, label="Δ vs baseline, 95% paired CI")
    mdd = compared["paired.mdd"].to_numpy(dtype=float)
    axes.scatter(
        np.concatenate([mdd, -mdd]),
        np.concatenate([positions, positions]),
        marker="|",
        s=160,
        color="#d62728",
        label="± MDD (80% power)",
    )
    axes.set_yticks(
        positions, [f"{row} − {base}" for row, base in zip(compared["row"], compared["baseline"], strict=True)]
    )
    axes.set_xlabel(f"paired difference in {spec.metric} (row − baseline)")
    axes.set_title(f"{spec.name}: paired differences to the baseline", fontsize="medium")
    axes.grid(axis="x", alpha=0.3)
    figure.legend(loc="outside lower center", fontsize="small", ncols=3)
    return figure


def learning_curves(curves: dict[str, list[dict[int, float]]], spec: StudySpec, metric: str = "val/top1_err") -> Figure:
    """Validation error per epoch, one line per row: the mean over seeds and its min-max spread."""
    figure = Figure(figsize=(8, 4.2), layout="constrained")
    axes = figure.add_subplot()
    for index, (row, seeds) in enumerate(curves.items()):
        frame = pd.DataFrame(seeds).T.sort_index()  # epochs x seeds
        colour = f"C{index % 10}"
        axes.plot(frame.index, frame.mean(axis=1), color=colour, label=f"{row} (n={frame.shape[1]})")
        axes.fill_between(frame.index, frame.min(axis=1), frame.max(axis=1), color=colour, alpha=0.15)
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"{metric} (mean; band: min-max over seeds)")
    axes.set_title(f"{spec.name}: learning curves", fontsize="medium")
    axes.grid(alpha=0.3)
    figure.legend(loc="outside right center", fontsize="small")
    return figure


def effects_plot(effects: list[Effect], spec: StudySpec, margin: float | None = None) -> Figure:
    """A factorial study's effects with their 95% intervals, largest on top: what its verdicts rest on.

    Each effect's red band is ± its MDD (how large a true effect these seeds would find), the green band ±δ
    (``--margin``) where an effect counts as equivalent to none.
    """
    ordered = sorted(effects, key=lambda found: abs(found.estimate))
    figure = Figure(figsize=(8, 0.55 * max(len(ordered), 1) + 1.8), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(ordered))
    estimate = np.array([found.estimate for found in ordered])
    mdd = np.nan_to_num(np.array([found.mdd for found in ordered]))
    if margin is not None:
        axes.axvspan(-margin, margin, color="#2ca02c", alpha=0.12, label=f"equivalence band ±{margin:g}")
    axes.barh(positions, 2 * mdd, left=-mdd, height=0.6, color="#d62728", alpha=0.15, label="± MDD (80% power)")
    axes.axvline(0, color="#333333", linewidth=1)
    whiskers = np.vstack([estimate - [found.low for found in ordered], [found.high for found in ordered] - estimate])
    axes.errorbar(estimate, positions, xerr=np.nan_to_num(whiskers), fmt="o", color=ROW_COLOUR, capsize=4)
    axes.errorbar([], [], xerr=[], fmt="o", color=ROW_COLOUR, label="effect, 95% CI over seeds")
    axes.set_yticks(positions, [found.name for found in ordered])
    axes.set_xlabel(f"effect on {spec.metric} (high level − low level)")
    axes.set_title(f"{spec.name}: effects, sorted by size", fontsize="medium")
    axes.grid(axis="x", alpha=0.3)
    figure.legend(loc="outside lower center", fontsize="small", ncols=3)
    return figure


def interaction_plot(
    responses: np.ndarray,
    matrix: np.ndarray,
    factors: tuple[str, str],
    levels: tuple[list[str], list[str]],
    spec: StudySpec,
) -> Figure:
    """A 2×2 design's interaction plot: the mean metric at each level of the first axis, one line per level of the
    second, with 95% seed intervals; parallel lines mean no interaction.

    ``responses`` is seeds x runs, ``matrix`` the design's ±1 runs x 2, ``levels`` each axis's (low, high) labels.
    """
    figure = Figure(figsize=(6, 4.2), layout="constrained")
    axes = figure.add_subplot()
    first, second = factors
    for index, (sign, label) in enumerate(zip((-1.0, 1.0), levels[1], strict=True)):
        means, low, high = [], [], []
        for first_sign in (-1.0, 1.0):
            run = int(np.flatnonzero((matrix[:, 0] == first_sign) & (matrix[:, 1] == sign))[0])
            interval = seed_interval(responses[:, run].tolist())
            means.append(interval.mean)
            low.append(interval.mean - interval.low)
            high.append(interval.high - interval.mean)
        offset = (index - 0.5) * 0.04  # the two lines' whiskers side by side, not on top of each other
        axes.errorbar(
            np.array([0.0, 1.0]) + offset,
            means,
            yerr=np.nan_to_num(np.array([low, high])),
            marker=_MARKERS[index],
            color=f"C{index}",
            capsize=4,
            label=f"{second} = {label}",
        )
    axes.set_xticks([0, 1], levels[0])
    axes.set_xlim(-0.3, 1.3)
    axes.set_xlabel(first)
    axes.set_ylabel(f"{spec.metric} (mean, 95% CI over seeds)")
    axes.set_title(f"{spec.name}: {first} × {second} (n={responses.shape[0]} seeds)", fontsize="medium")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    return figure
