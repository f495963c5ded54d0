"""Seed statistics: a Student t interval per row and a paired t-test against the baseline row.

Seeds are few (3 to 5), so intervals use Student's t with n - 1 degrees of freedom rather than a
normal approximation, and rows are compared to the baseline on matched seeds (paired), which
removes the shared seed-to-seed noise that an unpaired test would count against the difference.
Comparing many rows to one baseline inflates false positives; :func:`holm` adjusts the p-values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE


@dataclass(frozen=True)
class SeedInterval:
    """Mean, sample standard deviation and Student t confidence interval of one row's values over seeds."""

    n: int
    mean: float
    std: float  # sample standard deviation (ddof = 1); NaN for fewer than 2 values
    low: float
    high: float


@dataclass(frozen=True)
class PairedTest:
    """Paired t-test of ``treatment - control`` over matched seeds."""

    n_pairs: int
    mean_diff: float
    low: float
    high: float
    p_value: float  # two-sided; NaN for fewer than 2 pairs


def _t_critical(n: int, confidence: float) -> float:
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1))


def seed_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> SeedInterval:
    """The mean of ``values`` with its Student t interval; the spread is NaN below 2 values."""
    n = len(values)
    if n == 0:
        return SeedInterval(0, math.nan, math.nan, math.nan, math.nan)
    mean = math.fsum(values) / n
    if n < 2:
        return SeedInterval(n, mean, math.nan, math.nan, math.nan)
    std = math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (n - 1))
    half_width = _t_critical(n, confidence) * std / math.sqrt(n)
    return SeedInterval(n, mean, std, mean - half_width, mean + half_width)


def paired_t_test(treatment: Sequence[float], control: Sequence[float], confidence: float = CONFIDENCE) -> PairedTest:
    """Paired t-test over matched seeds (``treatment[i]`` and ``control[i]`` share seed i).

    When every seed gives the same difference there is no noise estimate: p = 1 if that difference
    is 0 (the rows agree exactly), otherwise p and the interval are NaN, because claiming an effect
    from, say, two identical differences of a quantised error rate would be overconfident.
    """
    if len(treatment) != len(control):
        raise ValueError(f"paired samples differ in length: {len(treatment)} vs {len(control)}")
    differences = [a - b for a, b in zip(treatment, control, strict=True)]
    interval = seed_interval(differences, confidence)
    if interval.n < 2 or (interval.std == 0 and interval.mean != 0):
        return PairedTest(interval.n, interval.mean, math.nan, math.nan, math.nan)
    if interval.std == 0:
        return PairedTest(interval.n, 0.0, 0.0, 0.0, 1.0)
    t_statistic = interval.mean / (interval.std / math.sqrt(interval.n))
    p_value = float(2 * stats.t.sf(abs(t_statistic), interval.n - 1))
    return PairedTest(interval.n, interval.mean, interval.low, interval.high, p_value)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in input order; NaN entries are not tests and stay NaN."""
    tested = sorted((p, index) for index, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running_max = 0.0
    for rank, (p, index) in enumerate(tested):
        running_max = max(running_max, min(1.0, (len(tested) - rank) * p))
        adjusted[index] = running_max
    return adjusted
