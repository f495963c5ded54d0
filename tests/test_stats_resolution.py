"""A spread within float rounding is no noise estimate, in every test the report runs.

Three seeds that each hit one more of 12 images than the baseline give the bit-identical difference
1/12 on every seed, but subtracting the runs' error rates leaves a sample std of ~1e-17, not 0; a t
statistic over that would report a certain effect with a zero-width interval.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from attnlab.reports.aggregate import aggregate
from attnlab.reports.cells import cell_frame
from attnlab.stats.comparisons import equivalence_test, paired_t_test, seed_interval
from attnlab.stats.sequential import EQUIVALENT, OPEN, SequentialPlan, look_verdicts
from tests.test_aggregate import _cell, hand_spec

# Error rates in percent of 12 images: the row gets one image more right than the baseline on every seed.
BASELINE = [100 * 5 / 12, 100 * 7 / 12, 100 * 3 / 12]
ROW = [100 * 4 / 12, 100 * 6 / 12, 100 * 2 / 12]


def test_rounding_leaves_a_spread_that_the_tests_ignore() -> None:
    differences = np.subtract(ROW, BASELINE)
    assert 0 < np.std(differences, ddof=1) < 1e-12  # the defect's premise: not exactly 0
    assert seed_interval(list(differences)).std == 0.0


def test_t_test_and_tost_agree_on_a_constant_difference() -> None:
    test = paired_t_test(ROW, BASELINE)
    assert test.mean_diff == np.mean(np.subtract(ROW, BASELINE))
    assert math.isnan(test.p_value) and math.isnan(test.low) and math.isnan(test.high)  # no noise estimate
    tost = equivalence_test(list(np.subtract(ROW, BASELINE)), margin=20.0)
    assert math.isnan(tost.p_value) and not tost.equivalent  # was "equivalent, p = 0"
    assert math.isnan(equivalence_test([0.5, 0.5, 0.5], margin=1.0).p_value)  # exactly constant: the same


def test_rows_that_agree_exactly_stay_equivalent() -> None:
    same = paired_t_test([0.1 + 0.2, 0.5], [0.3, 0.5])  # 5.6e-17 and 0: the same runs
    assert (same.mean_diff, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    tost = equivalence_test([0.1 + 0.2 - 0.3, 0.0, 0.0], margin=0.1)
    assert tost.equivalent and tost.p_value == 0.0


def test_sequential_looks_need_a_noise_estimate() -> None:
    plan = SequentialPlan.for_study([0, 1, 2], 6, margin=50.0)
    result = look_verdicts(np.subtract(ROW, BASELINE)[None], 0, plan)
    assert result.verdict[0] == OPEN  # was "better" from a 1e-17 standard error
    assert math.isnan(result.low[0]) and math.isnan(result.high[0])
    agree = look_verdicts(np.array([[0.1 + 0.2 - 0.3, 0.0, 0.0]]), 0, plan)
    assert agree.verdict[0] == EQUIVALENT and (agree.low[0], agree.high[0]) == (0.0, 0.0)


def test_the_report_gives_no_verdict_on_a_constant_difference() -> None:
    """The audit's case end to end: one more of 12 images right on every seed was "better (p_Holm < 0.001)"."""
    spec = dataclasses.replace(hand_spec(), rows=("base", "a"))
    records = [_cell("base", seed, value) for seed, value in enumerate(BASELINE)]
    records += [_cell("a", seed, value) for seed, value in enumerate(ROW)]
    summary = aggregate(cell_frame(records, spec), spec, margin=20.0).set_index("row")
    assert summary.loc["a", "verdict"] == "n/a: the same difference on every seed (no noise estimate)"
    assert math.isnan(summary.loc["a", "paired.ci_low"]) and math.isnan(summary.loc["a", "tost.p"])
    assert summary.loc["a", "poi"] == 1.0 and summary.loc["a", "poi.ci_low"] == pytest.approx(0.025 ** (1 / 3))
