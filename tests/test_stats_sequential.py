"""The seeds-until-decided rule holds its error rates under optional stopping: proved by simulation.

Thousands of synthetic studies (no training): paired differences drawn as N(Δ, 1) per seed, fed
through the same rule the launcher's rounds use. With Δ = 0 the rate of a "better/worse" verdict
must stay at or below α within its Monte-Carlo error; with Δ at the equivalence margin the rate of
an "equivalent" verdict must too. The boundaries' calibration is checked against R ldbounds'
published Lan–DeMets O'Brien–Fleming boundaries (two-sided α = 0.05, five equal looks).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from attnlab.stats.sequential import (
    BETTER_OR_WORSE,
    EQUIVALENT,
    OPEN,
    SequentialPlan,
    calibrated_bounds,
    replay,
    sequential_decisions,
)

STUDIES = 20_000
ALPHA = 0.05
# Three standard errors of a rate of α over STUDIES, plus the calibration's own (200 000 paths).
TOLERANCE = 3 * math.sqrt(ALPHA * (1 - ALPHA) / STUDIES) + 3 * math.sqrt(ALPHA * (1 - ALPHA) / 200_000)
LDBOUNDS_OBF_5 = (4.8769, 3.3569, 2.6803, 2.2898, 2.0310)


def _studies(plan: SequentialPlan, difference: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(difference, 1.0, size=(STUDIES, plan.max_seeds))


def test_calibration_reproduces_lan_demets_obrien_fleming() -> None:
    bounds = calibrated_bounds([2, 4, 6, 8, 10], ALPHA, known_variance=True)
    assert bounds[0] == pytest.approx(LDBOUNDS_OBF_5[0], abs=1e-3)  # exact: the first look's marginal quantile
    assert bounds[2:] == pytest.approx(LDBOUNDS_OBF_5[2:], abs=0.02)  # simulated: Monte-Carlo error


@pytest.mark.parametrize(("first", "maximum", "step"), [(3, 12, 3), (3, 10, 1), (2, 8, 2)])
def test_false_positive_rate_stays_at_alpha(first: int, maximum: int, step: int) -> None:
    plan = SequentialPlan.for_study(list(range(first)), maximum, step=step)
    verdict, _, spent = sequential_decisions(_studies(plan, 0.0, seed=first * 100 + step), plan)
    false_positive_rate = float(np.mean(verdict == BETTER_OR_WORSE))
    assert false_positive_rate <= ALPHA + TOLERANCE
    assert false_positive_rate >= ALPHA - 0.02  # and the rule is not needlessly timid
    assert spent.mean() > 0.95 * maximum  # with no difference almost every study runs to the end


def test_equivalence_error_at_the_margin_stays_at_alpha() -> None:
    plan = SequentialPlan.for_study([0, 1, 2], 12, step=3, margin=1.0)
    verdict, _, _ = sequential_decisions(_studies(plan, 1.0, seed=7), plan)  # true difference exactly δ
    assert np.mean(verdict == EQUIVALENT) <= ALPHA + TOLERANCE
    none_at_all, _, spent = sequential_decisions(_studies(plan, 0.0, seed=8), plan)
    assert spent.mean() < 11  # equivalent rows stop early
    assert np.mean(none_at_all == BETTER_OR_WORSE) <= ALPHA + TOLERANCE  # a margin costs no false positives
    assert np.mean(none_at_all == EQUIVALENT) > 0.5  # a zero difference is mostly shown equivalent within 1σ


def test_power_and_seeds_spent_against_a_fixed_design() -> None:
    """A true difference of one noise std: the sequential rule decides about as often as 12 fixed seeds, on fewer."""
    plan = SequentialPlan.for_study([0, 1, 2], 12, step=3)
    differences = _studies(plan, 1.0, seed=11)
    verdict, _, spent = sequential_decisions(differences, plan)
    fixed = SequentialPlan.for_study(list(range(12)), 12)
    fixed_verdict, _, _ = sequential_decisions(differences, fixed)
    assert np.mean(verdict == BETTER_OR_WORSE) >= np.mean(fixed_verdict == BETTER_OR_WORSE) - 0.05
    assert spent.mean() < 10.5


def test_bonferroni_split_over_rows() -> None:
    plan = SequentialPlan.for_study([0, 1, 2], 9, step=3, compared_rows=4)
    assert plan.alpha_per_row == pytest.approx(ALPHA / 4)
    verdict, _, _ = sequential_decisions(_studies(plan, 0.0, seed=5), plan)
    assert np.mean(verdict == BETTER_OR_WORSE) <= ALPHA / 4 + 3 * math.sqrt(ALPHA / 4 / STUDIES) + 0.002


def test_replay_is_the_same_rule_and_schedules_only_open_rows() -> None:
    plan = SequentialPlan.for_study([0, 1], 6, step=2, margin=0.3)
    assert plan.looks == (2, 4, 6) and plan.seeds == (0, 1, 2, 3, 4, 5)
    baselines = {"base": "base", "big": "base", "same": "base"}
    truth = {"base": [10.0, 11.0, 9.0, 10.5, 9.5, 10.2], "big": [], "same": []}
    truth["big"] = [value + 3.0 + 0.1 * index for index, value in enumerate(truth["base"])]  # clearly worse
    truth["same"] = [value + (-1) ** index * 0.6 for index, value in enumerate(truth["base"])]  # noisy, mean ≈ 0
    stored: dict[tuple[str, int], float] = {(row, seed): truth[row][seed] for row in truth for seed in (0, 1)}

    def value(row: str, seed: int) -> float | None:
        return stored.get((row, seed))

    first = replay(plan, baselines, value)
    assert first.decisions["big"].verdict == OPEN  # two seeds: the first look's boundary is out of reach
    assert sorted(first.todo) == sorted((row, seed) for row in ("base", "big", "same") for seed in (2, 3))
    stored.update({cell: truth[cell[0]][cell[1]] for cell in first.todo})
    second = replay(plan, baselines, value)
    expected, stop, _ = sequential_decisions(
        np.array([np.subtract(truth[row], truth["base"]) for row in ("big", "same")]), plan
    )
    assert second.decisions["big"].verdict == BETTER_OR_WORSE == expected[0]
    assert second.decisions["big"].look == stop[0] == 1
    assert {row for row, _ in second.todo} == {"base", "same"}  # the decided row gets no more seeds
    stored.update({cell: truth[cell[0]][cell[1]] for cell in second.todo})
    final = replay(plan, baselines, value)
    assert final.finished and final.decisions["same"].verdict == expected[1]
    stored[("same", 5)] = math.nan  # a failed cell: one pair fewer, the schedule is still finished
    assert replay(plan, baselines, value).decisions["same"].pairs == 5


def test_plan_survives_storage() -> None:
    plan = SequentialPlan.for_study([4, 7], 5, step=2, margin=0.25, compared_rows=3)
    assert plan.seeds == (4, 7, 8, 9, 10)
    stored = json.loads(json.dumps(plan.to_dict()))
    assert SequentialPlan.from_dict(stored) == plan
