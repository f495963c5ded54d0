"""Per-row statistics over seeds and the paired comparison of every row with the baseline row.

Only complete cells enter a mean; the counts of failed, running and missing cells sit beside it.
The verdict reads the (Holm-adjusted, unless ``correction="none"``) paired p-value at
``ALPHA``, so "better"/"worse" means beyond the seed-to-seed noise, and anything that cannot be
tested says why ("n/a: 1 seed pair").
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from attnlab.ablations import PAPER_COLUMNS
from attnlab.errors import ConfigError
from attnlab.reports.cells import COMPLETE, STATES, metric_columns
from attnlab.reports.spec import StudySpec
from attnlab.reports.stats import ALPHA, holm, paired_t_test, seed_interval
from attnlab.sweeps.records import StepTiming

CORRECTIONS = ("holm", "none")
PAPER_KEYS = tuple(PAPER_COLUMNS)  # the paper's numbers a study row may carry: top1_err, params_m, ...
PAIRED_COLUMNS = ("paired.n", "paired.diff", "paired.ci_low", "paired.ci_high", "paired.p")


def format_p(p_value: float) -> str:
    return "<0.001" if p_value < 0.001 else f"{p_value:.3f}"


def _metric_stats(complete: pd.DataFrame, metric: str) -> dict[str, Any]:
    interval = seed_interval(complete[metric].dropna().tolist())
    return {
        f"{metric}.n": interval.n,
        f"{metric}.mean": interval.mean,
        f"{metric}.std": interval.std,
        f"{metric}.ci_low": interval.low,
        f"{metric}.ci_high": interval.high,
    }


def _paired(row_cells: pd.DataFrame, baseline_cells: pd.DataFrame, metric: str) -> dict[str, Any]:
    """Row minus baseline on the seeds both completed."""
    ours = row_cells.dropna(subset=[metric]).set_index("seed")[metric]
    theirs = baseline_cells.dropna(subset=[metric]).set_index("seed")[metric]
    seeds = sorted(set(ours.index) & set(theirs.index))
    test = paired_t_test([ours[seed] for seed in seeds], [theirs[seed] for seed in seeds])
    return dict(zip(PAIRED_COLUMNS, (test.n_pairs, test.mean_diff, test.low, test.high, test.p_value), strict=True))


def _verdict(summary_row: pd.Series, spec: StudySpec, p_column: str) -> str:
    if pd.isna(summary_row["baseline"]):
        return "n/a: no baseline"
    if summary_row["row"] == summary_row["baseline"]:
        return "baseline"
    if summary_row[f"{spec.metric}.n"] == 0:
        return "n/a: no complete cell"
    pairs = int(summary_row["paired.n"])
    if pairs < 2:
        return f"n/a: {pairs} seed pair{'s' if pairs != 1 else ''} with the baseline"
    p_value = float(summary_row[p_column])
    if math.isnan(p_value):
        return "n/a: the same difference on every seed (no noise estimate)"
    label = "p_Holm" if p_column == "paired.p_holm" else "p"
    if p_value >= ALPHA:
        return f"within noise ({label}={format_p(p_value)})"
    lower_is_better = spec.direction == "minimize"
    better = (summary_row["paired.diff"] < 0) == lower_is_better
    return f"{'better' if better else 'worse'} ({label}={format_p(p_value)})"


def aggregate(
    cells: pd.DataFrame, spec: StudySpec, correction: str = "holm", step_timing: StepTiming | None = None
) -> pd.DataFrame:
    """One summary row per study row: cell counts, mean/std/CI of each metric, cost, paired test, verdict.

    ``time_ratio`` (row's step time ÷ its baseline's) comes from ``step_timing`` alone; without one it is NaN.
    """
    if correction not in CORRECTIONS:
        raise ConfigError(f"--correction: {correction!r} is not valid; use one of {', '.join(CORRECTIONS)}")
    metrics = metric_columns(cells)
    logged = [metric for metric in metrics if cells[metric].notna().any()]
    if logged and spec.metric not in logged:  # none logged yet: a study just started gets an all-n/a table
        raise ConfigError(f"--metric: no cell logged {spec.metric!r}; metrics found: {', '.join(logged)}")
    complete = cells[cells["state"] == COMPLETE]
    rows = []
    for row in spec.rows:
        row_cells = cells[cells["row"] == row]
        row_complete = complete[complete["row"] == row]
        baseline = spec.baseline_of(row)
        summary: dict[str, Any] = {"row": row, "baseline": baseline, "cells": len(row_cells)}
        summary |= {state: int((row_cells["state"] == state).sum()) for state in STATES}
        for metric in metrics:
            summary |= _metric_stats(row_complete, metric)
        for cost in ("params", "gmacs", "train_images_per_s", "peak_memory_mb"):
            summary[cost] = row_complete[cost].mean()
        if baseline is None or baseline == row:
            summary |= dict.fromkeys(PAIRED_COLUMNS, math.nan)
        else:
            summary |= _paired(row_complete, complete[complete["row"] == baseline], spec.metric)
        summary |= {f"paper.{key}": spec.paper.get(row, {}).get(key, math.nan) for key in PAPER_KEYS}
        rows.append(summary)
    frame = pd.DataFrame(rows)
    # Step time relative to the row's baseline, measured side by side: > 1 means this row trains slower.
    frame["time_ratio"] = [
        (step_timing.ratio(row, baseline) if step_timing and isinstance(baseline, str) else None) or math.nan
        for row, baseline in zip(frame["row"], frame["baseline"], strict=True)
    ]
    compared = frame["baseline"].notna() & (frame["row"] != frame["baseline"])
    frame["paired.p_holm"] = math.nan
    frame.loc[compared, "paired.p_holm"] = holm(frame.loc[compared, "paired.p"].tolist())
    p_column = "paired.p_holm" if correction == "holm" else "paired.p"
    frame["verdict"] = [_verdict(summary_row, spec, p_column) for _, summary_row in frame.iterrows()]
    return frame
