"""Aggregation over seeds on a hand-made study, checked against values computed by hand.

Expected numbers come from closed forms, not from the code under test: Student t quantiles from
tables, and the t distribution's CDF for 1 and 2 degrees of freedom, which is elementary:
df=1 (Cauchy): P(|T| > t) = 1 - 2/pi * atan(t); df=2: P(|T| > t) = 1 - t / sqrt(t^2 + 2).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from attnlab.errors import ConfigError
from attnlab.reports.aggregate import aggregate
from attnlab.reports.cells import cell_frame
from attnlab.reports.report import build_report, write_report
from attnlab.reports.spec import LoadedStudy, StudySpec
from attnlab.stats.comparisons import holm, paired_t_test, seed_interval
from attnlab.sweeps.store.records import CellRecord, StepTiming

T_975_DF1 = 12.706204736174698  # Student t table, two-sided 95%
T_975_DF2 = 4.302652729749464

TOP1 = {
    "base": {0: 30.0, 1: 31.0, 2: 29.0},
    "a": {0: 29.0, 1: 30.5, 2: 28.0},
    "b": {0: 31.0, 1: 31.0},  # seed 2 failed
    "c": {1: 29.0},  # seed 0 running, seed 2 missing
}


def _cell(row: str, seed: int, top1: float | None, state: str = "complete", **fields: object) -> CellRecord:
    metrics = {} if top1 is None else {"test/top1_err": top1, "test/top5_err": top1 / 4}
    speed = 1000.0 if row == "base" else 800.0
    return CellRecord(
        study="hand",
        row=row,
        seed=seed,
        axes={"model.attention.type": row, "model.attention.channel_pool": ["avg", "max"]},
        metrics=metrics,
        params=1_000_000 if row == "base" else 1_010_000,
        macs=2_000_000_000,
        train_images_per_s=speed,
        state=state,
        **fields,  # type: ignore[arg-type]
    )


def hand_records() -> list[CellRecord]:
    records = [_cell(row, seed, value) for row, values in TOP1.items() for seed, value in values.items()]
    records.append(_cell("b", 2, None, state="failed", failure_reason="DivergedError: loss is nan"))
    records.append(_cell("c", 0, None, state="running"))
    return records


def hand_spec() -> StudySpec:
    return StudySpec(
        name="hand",
        profile="quick",
        rows=("base", "a", "b", "c", "d"),
        seeds=(0, 1, 2),
        baseline="base",
        paper={"a": {"top1_err": 22.66, "top5_err": 6.31}},
    )


@pytest.fixture
def summary() -> pd.DataFrame:
    spec = hand_spec()
    return aggregate(cell_frame(hand_records(), spec), spec).set_index("row")


def test_seed_interval_matches_hand_computation() -> None:
    interval = seed_interval([30.0, 31.0, 29.0])
    half_width = T_975_DF2 * 1.0 / math.sqrt(3)  # sample std of (30, 31, 29) is exactly 1
    assert (interval.n, interval.mean, interval.std) == (3, 30.0, pytest.approx(1.0))
    assert interval.low == pytest.approx(30.0 - half_width)
    assert interval.high == pytest.approx(30.0 + half_width)
    single = seed_interval([29.0])
    assert single.mean == 29.0 and math.isnan(single.std) and math.isnan(single.low)


def test_paired_t_test_matches_closed_forms() -> None:
    # differences (-1, -0.5, -1): mean -5/6, sd sqrt(1/12), se 1/6, t = -5, df = 2
    test = paired_t_test([29.0, 30.5, 28.0], [30.0, 31.0, 29.0])
    assert test.n_pairs == 3
    assert test.mean_diff == pytest.approx(-5 / 6)
    assert test.p_value == pytest.approx(1 - 5 / math.sqrt(27))
    assert test.low == pytest.approx(-5 / 6 - T_975_DF2 / 6)
    assert test.high == pytest.approx(-5 / 6 + T_975_DF2 / 6)
    # the same difference on every seed: no noise estimate, no p-value; no difference at all: p = 1
    same = paired_t_test([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
    assert same.mean_diff == 1.0 and math.isnan(same.p_value) and math.isnan(same.low)
    equal = paired_t_test([1.0, 2.0], [1.0, 2.0])
    assert (equal.mean_diff, equal.p_value, equal.low, equal.high) == (0.0, 1.0, 0.0, 0.0)
    lone = paired_t_test([1.0], [0.0])
    assert lone.n_pairs == 1 and math.isnan(lone.p_value)


def test_holm_adjusts_in_input_order_and_skips_untested() -> None:
    adjusted = holm([0.01, 0.04, 0.03, math.nan])
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04)
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])


def test_row_means_stds_and_intervals(summary: pd.DataFrame) -> None:
    assert summary.loc["base", "test/top1_err.mean"] == pytest.approx(30.0)
    assert summary.loc["base", "test/top1_err.std"] == pytest.approx(1.0)
    assert summary.loc["base", "test/top1_err.ci_low"] == pytest.approx(30.0 - T_975_DF2 / math.sqrt(3))
    assert summary.loc["a", "test/top1_err.mean"] == pytest.approx(87.5 / 3)
    # a: deviations from 29.1667 are -0.1667, 1.3333, -1.1667 -> variance (1/36 + 64/36 + 49/36) / 2
    assert summary.loc["a", "test/top1_err.std"] == pytest.approx(math.sqrt(114 / 72))
    assert summary.loc["b", "test/top1_err.n"] == 2
    assert summary.loc["b", "test/top1_err.std"] == pytest.approx(0.0)
    assert summary.loc["c", "test/top1_err.n"] == 1 and math.isnan(summary.loc["c", "test/top1_err.ci_low"])
    assert summary.loc["a", "test/top5_err.mean"] == pytest.approx(87.5 / 12)


def test_paired_differences_holm_and_verdicts(summary: pd.DataFrame) -> None:
    p_a = 1 - 5 / math.sqrt(27)  # t = -5, df = 2
    assert summary.loc["a", "paired.n"] == 3
    assert summary.loc["a", "paired.diff"] == pytest.approx(-5 / 6)
    assert summary.loc["a", "paired.p"] == pytest.approx(p_a)
    # b vs base on seeds 0 and 1: differences (1, 0), mean 0.5, se 0.5, t = 1, df = 1 -> p = 0.5
    assert summary.loc["b", "paired.n"] == 2
    assert summary.loc["b", "paired.diff"] == pytest.approx(0.5)
    assert summary.loc["b", "paired.p"] == pytest.approx(0.5)
    assert summary.loc["b", "paired.ci_high"] == pytest.approx(0.5 + T_975_DF1 * 0.5)
    # Holm over the two testable rows (c has 1 pair, d none): 2 * p_a = 0.07550, then max(2 * p_a, 0.5)
    assert summary.loc["a", "paired.p_holm"] == pytest.approx(2 * p_a)
    assert summary.loc["b", "paired.p_holm"] == pytest.approx(0.5)
    assert summary.loc["a", "verdict"] == "within noise (p_Holm=0.075)"
    assert summary.loc["b", "verdict"] == "within noise (p_Holm=0.500)"
    assert summary.loc["c", "verdict"] == "n/a: 1 seed pair with the baseline"
    assert summary.loc["d", "verdict"] == "n/a: no complete cell"
    assert summary.loc["base", "verdict"] == "baseline"


def test_uncorrected_verdict_says_better() -> None:
    spec = hand_spec()
    summary = aggregate(cell_frame(hand_records(), spec), spec, correction="none").set_index("row")
    assert summary.loc["a", "verdict"] == "better (p=0.038)"


def test_counts_cost_and_time_overhead(summary: pd.DataFrame) -> None:
    assert summary.loc["b", ["complete", "failed", "missing"]].tolist() == [2, 1, 0]
    assert summary.loc["c", ["complete", "running", "missing"]].tolist() == [1, 1, 1]
    assert summary.loc["d", ["complete", "missing"]].tolist() == [0, 3]
    assert math.isnan(summary.loc["a", "time_ratio"])  # cells' throughput alone makes no time overhead
    assert summary.loc["a", "gmacs"] == pytest.approx(2.0)
    assert summary.loc["a", "paper.top1_err"] == 22.66 and math.isnan(summary.loc["b", "paper.top1_err"])


def test_time_overhead_comes_from_the_side_by_side_step_timing() -> None:
    spec = hand_spec()
    timing = StepTiming("cpu: test", 1, 32, (1, 16, 16), 15, {"base": 0.020, "a": 0.025, "b": 0.021})
    summary = aggregate(cell_frame(hand_records(), spec), spec, step_timing=timing).set_index("row")
    assert summary.loc["a", "time_ratio"] == pytest.approx(1.25)
    assert summary.loc["b", "time_ratio"] == pytest.approx(1.05)
    assert summary.loc["base", "time_ratio"] == pytest.approx(1.0)
    assert math.isnan(summary.loc["c", "time_ratio"])  # not measured


def test_failed_and_missing_cells_are_listed_not_dropped() -> None:
    spec = hand_spec()
    cells = cell_frame(hand_records(), spec).set_index("cell")
    assert len(cells) == 15  # 5 rows x 3 seeds
    assert cells.loc["b/seed2", "state"] == "failed"
    assert cells.loc["b/seed2", "failure_reason"] == "DivergedError: loss is nan"
    assert math.isnan(cells.loc["b/seed2", "test/top1_err"])
    assert cells.loc["c/seed2", "state"] == "missing" and cells.loc["c/seed0", "state"] == "running"
    assert cells.loc["a/seed0", "axis:model.attention.channel_pool"] == '["avg", "max"]'


def test_partial_study_is_marked_partial() -> None:
    report = build_report(LoadedStudy(hand_spec(), hand_records(), "hand-made"))
    assert report.partial
    assert report.status == "PARTIAL: 9/15 cells complete (1 running, 1 failed, 4 missing)"


def test_complete_study_is_marked_complete() -> None:
    records = [_cell(row, seed, 30.0 + seed + (row == "a")) for row in ("base", "a") for seed in (0, 1)]
    spec = StudySpec(name="done", profile="quick", rows=("base", "a"), seeds=(0, 1), baseline="base")
    report = build_report(LoadedStudy(spec, records, "hand-made"))
    assert not report.partial and report.status == "COMPLETE: 4/4 cells"


def test_retried_cell_keeps_the_complete_attempt_and_counts_attempts() -> None:
    spec = StudySpec(name="retry", profile=None, rows=("base",), seeds=(0,), baseline="base")
    records = [_cell("base", 0, None, state="failed", failure_reason="worker died"), _cell("base", 0, 30.0)]
    cell = cell_frame(records, spec).iloc[0]
    assert (cell["state"], cell["attempts"], cell["test/top1_err"]) == ("complete", 2, 30.0)


def test_rows_compare_with_their_own_baseline() -> None:
    records = [
        _cell(row, seed, value)
        for row, values in {"base": [30.0, 31.0], "a": [29.0, 30.0], "big": [20.0, 21.0], "big-a": [19.0, 21.0]}.items()
        for seed, value in enumerate(values)
    ]
    spec = StudySpec(
        name="within",
        profile=None,
        rows=("base", "a", "big", "big-a"),
        seeds=(0, 1),
        baseline="base",
        row_baselines={"big": "big", "big-a": "big"},
    )
    summary = aggregate(cell_frame(records, spec), spec).set_index("row")
    assert summary.loc["big", "verdict"] == "baseline"
    assert summary.loc["big-a", "baseline"] == "big"
    assert summary.loc["big-a", "paired.diff"] == pytest.approx(-0.5)  # (-1 + 0) / 2, not against "base"
    assert summary.loc["a", "paired.diff"] == pytest.approx(-1.0)


def test_bad_choices_fail_in_one_line() -> None:
    loaded = LoadedStudy(hand_spec(), hand_records(), "hand-made")
    with pytest.raises(ConfigError, match=r"--baseline: 'nope' is not a row of hand; rows: base, a, b, c, d"):
        build_report(loaded, baseline="nope")
    with pytest.raises(ConfigError, match=r"--metric: no cell logged 'val/top1_err'; metrics found: test/top1_err"):
        build_report(loaded, metric="val/top1_err")
    with pytest.raises(ConfigError, match=r"--correction: 'bonferroni' is not valid; use one of holm, none"):
        build_report(loaded, correction="bonferroni")


def test_metric_choice_brings_its_direction() -> None:
    # accuracy = 100 - error: row a is better on both, and with --metric test/top1_acc higher is better
    records = hand_records()
    for record in records:
        record.metrics |= {"test/top1_acc": 100 - record.metrics["test/top1_err"]} if record.metrics else {}
    report = build_report(LoadedStudy(hand_spec(), records, "hand-made"), metric="test/top1_acc", correction="none")
    summary = report.summary.set_index("row")
    assert report.spec.direction == "maximize"
    assert summary.loc["a", "paired.diff"] == pytest.approx(5 / 6)
    assert summary.loc["a", "verdict"] == "better (p=0.038)"
    with pytest.raises(ConfigError, match=r"--metric: 'test/top1' is not a metric attnlab logs; use one of"):
        build_report(LoadedStudy(hand_spec(), records, "hand-made"), metric="test/top1")


def test_study_without_a_finished_cell_still_reports(tmp_path: Path) -> None:
    spec = StudySpec(name="fresh", profile="quick", rows=("base", "a"), seeds=(0, 1), baseline="base")
    records = [_cell("base", 0, None, state="running"), _cell("a", 0, None, state="running")]
    report = build_report(LoadedStudy(spec, records, "hand-made"))
    assert report.status == "PARTIAL: 0/4 cells complete (2 running, 2 missing)"
    assert report.summary["verdict"].tolist() == ["baseline", "n/a: no complete cell"]
    paths = write_report(report, tmp_path)
    assert "PARTIAL: 0/4" in (tmp_path / "report.html").read_text() and len(paths) == 6
