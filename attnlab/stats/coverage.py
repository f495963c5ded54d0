"""Coverage of every interval the report prints, by simulation: many synthetic studies at once, no training.

Each interval is computed by the report's own vectorised functions on paired differences drawn
from a known law (normal, bimodal, skewed), so the share of intervals that contain the true value
is their coverage. ``tests/test_stats_coverage.py`` asserts it; ``benchmarks/interval_coverage.py``
prints the tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from attnlab.stats.comparisons import ALPHA, equivalence_tests, improvement_intervals, paired_t_tests, student_intervals
from attnlab.stats.sequential import SequentialPlan, look_verdicts

NOMINAL = 1 - ALPHA
PAIRS = (3, 5, 10)
SHIFT = 0.5  # true difference for P(better), so that its true value is not ½
MARGIN = 1.0  # TOST's equivalence margin; its error is simulated with the true difference at the margin


@dataclass(frozen=True)
class Law:
    """A law of the per-seed noise (mean 0): a sampler and its P(noise > −shift), the true P(better)."""

    draw: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
    above: Callable[[float], float]


LAWS = {
    "normal": Law(lambda rng, shape: rng.standard_normal(shape), lambda shift: float(stats.norm.cdf(shift))),
    # Two modes at ±1 (sd 0.5): some seeds land in one basin, some in the other.
    "bimodal": Law(
        lambda rng, shape: np.where(rng.random(shape) < 0.5, -1.0, 1.0) + 0.5 * rng.standard_normal(shape),
        lambda shift: float((stats.norm.cdf((shift + 1) / 0.5) + stats.norm.cdf((shift - 1) / 0.5)) / 2),
    ),
    # A centred exponential (skewness 2): rare seeds far worse than the rest.
    "skewed": Law(lambda rng, shape: rng.exponential(1.0, shape) - 1.0, lambda shift: float(np.exp(-(1 - shift)))),
}


def _contains(low: np.ndarray, high: np.ndarray, truth: float) -> float:
    return float(np.mean((low <= truth) & (truth <= high)))


def row_mean(noise: np.ndarray, _: int) -> float:
    """The t interval of a row's mean (the row's values: 30 + noise)."""
    _, _, low, high = student_intervals(30.0 + noise)
    return _contains(low, high, 30.0)


def paired_difference(noise: np.ndarray, _: int) -> float:
    """The paired t interval of row − baseline; the seeds' shared part cancels."""
    control = 30.0 + 2.0 * np.random.default_rng(1).standard_normal(noise.shape)
    _, low, high, _ = paired_t_tests((control + noise) - control)
    return _contains(low, high, 0.0)


def improvement(noise: np.ndarray, law: Law) -> float:
    """P(better)'s exact interval, against the true P(difference > 0) at difference SHIFT + noise."""
    _, low, high = improvement_intervals(SHIFT + noise)
    return _contains(low, high, law.above(SHIFT))


def equivalence(noise: np.ndarray, _: int) -> float:
    """1 − TOST's error rate: the true difference is exactly at the margin, so "equivalent" is an error."""
    _, _, _, equivalent = equivalence_tests(MARGIN + noise, MARGIN)
    return 1 - float(np.mean(equivalent))


def repeated_intervals(noise: np.ndarray, plan: SequentialPlan) -> float:
    """The --until-decided repeated intervals at looks n, 2n, 3n: all of a study's looks contain the truth."""
    covered = np.ones(noise.shape[0], dtype=bool)
    for look, seeds in enumerate(plan.looks):
        result = look_verdicts(noise[:, :seeds], look, plan)
        covered &= (result.low <= 0.0) & (result.high >= 0.0)
    return float(np.mean(covered))


def sequential_plan(pairs: int) -> SequentialPlan:
    """The plan --until-decided makes for a study of ``pairs`` seeds: two more rounds of as many."""
    return SequentialPlan.for_study(list(range(pairs)), 3 * pairs)


INTERVALS = ("row mean (t)", "paired Δ (t)", "P(better) (exact)", "TOST (1 − error)", "repeated CI (sequential)")


def coverage_table(trials: int, seed: int = 0, pairs: tuple[int, ...] = PAIRS) -> dict[tuple[str, str, int], float]:
    """Coverage of each interval under each law at each number of seed pairs, from ``trials`` studies each."""
    table: dict[tuple[str, str, int], float] = {}
    for n in pairs:
        plan = sequential_plan(n)
        for index, (name, law) in enumerate(LAWS.items()):
            noise = law.draw(np.random.default_rng([seed, n, index]), (trials, 3 * n))
            first = noise[:, :n]
            measured = (
                row_mean(first, n),
                paired_difference(first, n),
                improvement(first, law),
                equivalence(first, n),
                repeated_intervals(noise, plan),
            )
            table |= {(interval, name, n): value for interval, value in zip(INTERVALS, measured, strict=True)}
    return table


def monte_carlo_error(trials: int, level: float = NOMINAL) -> float:
    """The standard error of a coverage of ``level`` measured on ``trials`` studies."""
    return float(np.sqrt(level * (1 - level) / trials))
