"""Per-row statistics over seeds and the paired comparison of every row with the baseline row.

Only complete cells enter a mean; the counts of failed, running and missing cells sit beside it.
The verdict reads the (Holm-adjusted, unless ``correction="none"``) paired p-value at
``ALPHA``, so "better"/"worse" means beyond the seed-to-seed noise, and anything that cannot be
tested says why ("n/a: 1 seed pair").
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from attnlab.ablations import PAPER_COLUMNS
from attnlab.errors import ConfigError
from attnlab.reports.cells import COMPLETE, MISSING, STATES, metric_columns
from attnlab.reports.spec import StudySpec
from attnlab.stats.comparisons import (
    ALPHA,
    detectable_difference,
    equivalence_test,
    holm,
    paired_t_test,
    probability_of_improvement,
    seed_interval,
    seeds_needed,
)
from attnlab.stats.sequential import Schedule, decision_text, replay, replay_factorial
from attnlab.sweeps.store.records import StepTiming

CORRECTIONS = ("holm", "none")
PAPER_KEYS = tuple(PAPER_COLUMNS)  # the paper's numbers a study row may carry: top1_err, params_m, ...
PAIRED_COLUMNS = ("paired.n", "paired.diff", "paired.ci_low", "paired.ci_high", "paired.p")
# What the seeds can tell: the paired differences' spread, the smallest difference detectable with it, the
# seeds a difference of --effect needs, P(row better than baseline), and the --margin equivalence test.
POWER_COLUMNS = ("paired.std", "paired.mdd", "paired.seeds_needed", "poi", "poi.ci_low", "poi.ci_high")
EQUIVALENCE_COLUMNS = ("tost.ci_low", "tost.ci_high", "tost.p", "tost.equivalent")
SEQUENTIAL_COLUMNS = ("seq.look", "seq.pairs", "seq.ci_low", "seq.ci_high", "seq.verdict")


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


def _paired(
    row_cells: pd.DataFrame, baseline_cells: pd.DataFrame, spec: StudySpec, effect: float | None, margin: float | None
) -> dict[str, Any]:
    """Row minus baseline on the seeds both completed: the paired test, what it can detect, P(better), TOST."""
    metric = spec.metric
    ours = row_cells.dropna(subset=[metric]).set_index("seed")[metric]
    theirs = baseline_cells.dropna(subset=[metric]).set_index("seed")[metric]
    seeds = sorted(set(ours.index) & set(theirs.index))
    treatment, control = [ours[seed] for seed in seeds], [theirs[seed] for seed in seeds]
    test = paired_t_test(treatment, control)
    summary = dict(zip(PAIRED_COLUMNS, (test.n_pairs, test.mean_diff, test.low, test.high, test.p_value), strict=True))
    spread = seed_interval([a - b for a, b in zip(treatment, control, strict=True)]).std
    improvement = probability_of_improvement(treatment, control, lower_is_better=spec.direction == "minimize")
    needed = seeds_needed(effect, spread) if effect is not None else math.nan
    power = (spread, detectable_difference(len(seeds), spread), needed, *vars(improvement).values())
    summary |= dict(zip(POWER_COLUMNS, power, strict=True))
    if margin is not None:
        tost = equivalence_test([a - b for a, b in zip(treatment, control, strict=True)], margin)
        summary |= dict(zip(EQUIVALENCE_COLUMNS, (tost.low, tost.high, tost.p_value, tost.equivalent), strict=True))
    return summary


def _direction_word(spec: StudySpec, difference: float) -> str:
    return "better" if (difference < 0) == (spec.direction == "minimize") else "worse"


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
    equivalent = summary_row.get("tost.equivalent") is True
    margin_text = (
        f"equivalent within ±{summary_row['tost.margin']:g} (TOST p={format_p(summary_row['tost.p'])})"
        if equivalent
        else ""
    )
    if p_value >= ALPHA:
        return margin_text if equivalent else f"within noise ({label}={format_p(p_value)})"
    word = _direction_word(spec, summary_row["paired.diff"])
    return f"{word} ({label}={format_p(p_value)})" + (f"; {margin_text}" if equivalent else "")


def sequential_schedule(cells: pd.DataFrame, spec: StudySpec) -> Schedule | None:
    """The seeds-until-decided replay on the report's cells (the launcher's own rule, by effect for a factorial
    study, by row otherwise); None without a plan."""
    if spec.sequential is None:
        return None
    by_cell = cells.set_index(["row", "seed"])

    def value(row: str, seed: int) -> float | None:
        if (row, seed) not in by_cell.index:
            return None
        cell = by_cell.loc[(row, seed)]
        if cell["state"] == COMPLETE:
            return float(cell[spec.metric])
        return math.nan if cell["state"] == "failed" else None

    if spec.factorial is not None:  # its rounds added whole replicates while an effect was open
        return replay_factorial(spec.sequential, spec.factorial.design, spec.factorial.run_rows, value)
    return replay(spec.sequential, spec.baseline_map(), value)


def scheduled_cells(cells: pd.DataFrame, spec: StudySpec) -> pd.DataFrame:
    """A sequential study's cells without the missing ones its rounds never asked for (rows decided early)."""
    schedule = sequential_schedule(cells, spec)
    if schedule is None:
        return cells
    plan = schedule.plan
    due = set(schedule.todo) | {(row, seed) for row in spec.rows for seed in plan.seeds[: plan.first_look]}
    cell_keys = zip(cells["row"], cells["seed"], strict=True)
    keep = (cells["state"] != MISSING).to_numpy() | np.array([key in due for key in cell_keys], dtype=bool)
    return cells[keep].reset_index(drop=True)


def _sequential_columns(schedule: Schedule, spec: StudySpec, row: str) -> dict[str, Any]:
    decision = schedule.decisions.get(row)
    if decision is None:
        return dict.fromkeys(SEQUENTIAL_COLUMNS, math.nan)
    text = decision_text(schedule, row, lower_is_better=spec.direction == "minimize")
    values = (decision.look + 1, decision.pairs, decision.low, decision.high, text)
    return dict(zip(SEQUENTIAL_COLUMNS, values, strict=True))


def aggregate(
    cells: pd.DataFrame,
    spec: StudySpec,
    correction: str = "holm",
    *,
    effect: float | None = None,
    margin: float | None = None,
    step_timing: StepTiming | None = None,
) -> pd.DataFrame:
    """One summary row per study row: cell counts, mean/std/CI of each metric, cost, paired test, verdict.

    ``effect``: also the seeds a true difference of that size needs; ``margin``: the equivalence
    test within ±margin. A study run with ``--until-decided`` takes its verdict from the sequential rule.
    ``time_ratio`` (row's step time ÷ its baseline's) comes from ``step_timing`` alone; without one it is NaN.
    """
    for flag, value in (("--effect", effect), ("--margin", margin)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{flag}: {value!r}; use a positive number in the units of the metric")
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
            summary |= dict.fromkeys(PAIRED_COLUMNS + POWER_COLUMNS, math.nan)
            summary |= dict.fromkeys(EQUIVALENCE_COLUMNS, math.nan) if margin is not None else {}
        else:
            summary |= _paired(row_complete, complete[complete["row"] == baseline], spec, effect, margin)
        if margin is not None:
            summary["tost.margin"] = margin
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
    schedule = sequential_schedule(cells, spec)
    if schedule is not None:
        sequential = pd.DataFrame([_sequential_columns(schedule, spec, row) for row in frame["row"]])
        frame[list(SEQUENTIAL_COLUMNS)] = sequential.to_numpy()
        decided = frame["seq.verdict"].notna()
        frame.loc[decided, "verdict"] = frame.loc[decided, "seq.verdict"]
    return frame


def compare_metric(
    cells: pd.DataFrame, spec: StudySpec, metric: str, direction: str, correction: str = "holm"
) -> pd.DataFrame:
    """The paired difference to the baseline, p-values and verdict of another metric than the study's (such as a
    localisation score), by the same aggregation: ``row`` and, prefixed ``{metric}.``, the paired columns, the
    Holm-adjusted p and the verdict."""
    frame = aggregate(cells, dataclasses.replace(spec, metric=metric, direction=direction), correction)
    compared = [*PAIRED_COLUMNS, "paired.p_holm", "verdict"]
    return frame[["row", *compared]].rename(columns={column: f"{metric}.{column}" for column in compared})
