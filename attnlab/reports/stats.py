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

import numpy as np
from scipy import optimize, stats

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


POWER = 0.8


def paired_power(pairs: int, effect: float, std: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t-test with ``pairs`` pairs against a true mean difference ``effect``.

    The statistic follows a noncentral t with pairs − 1 degrees of freedom and noncentrality
    effect·√pairs / std; power is its mass beyond ±t₁₋α/₂. The far tail (wrong sign) is below α/2
    and vanishes as the effect grows; scipy returns NaN for it there, read as 0.
    """
    df = pairs - 1
    critical = stats.t.isf(alpha / 2, df)
    noncentrality = abs(effect) * math.sqrt(pairs) / std
    wrong_sign = float(np.nan_to_num(stats.nct.cdf(-critical, df, noncentrality), nan=0.0))
    return float(stats.nct.sf(critical, df, noncentrality)) + wrong_sign


def detectable_difference(pairs: int, std: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true difference the paired t-test finds with probability ``power`` at ``pairs`` pairs.

    NaN below 2 pairs or without a spread estimate.
    """
    if pairs < 2 or not std > 0 or not math.isfinite(std):
        return math.nan
    upper = std
    while paired_power(pairs, upper, std, alpha) < power:
        upper *= 2
    return float(optimize.brentq(lambda effect: paired_power(pairs, effect, std, alpha) - power, 0.0, upper))


MAX_SEEDS_NEEDED = 10_000


def seeds_needed(effect: float, std: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The fewest seed pairs (≥ 2) whose paired t-test finds a true difference ``effect`` with ``power``.

    NaN without a spread estimate or a non-zero effect; inf beyond :data:`MAX_SEEDS_NEEDED`.
    """
    if not std > 0 or not math.isfinite(std) or effect == 0 or not math.isfinite(effect):
        return math.nan
    # The normal approximation ((z₁₋α/₂ + z_power)·std/effect)² is a lower bound; step up from it.
    pairs = max(2, math.floor(((stats.norm.isf(alpha / 2) + stats.norm.ppf(power)) * std / effect) ** 2))
    while paired_power(pairs, effect, std, alpha) < power:
        pairs += 1
        if pairs > MAX_SEEDS_NEEDED:
            return math.inf
    return float(pairs)


@dataclass(frozen=True)
class Improvement:
    """P(row better than baseline) with its bootstrap interval."""

    probability: float
    low: float
    high: float


BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


def _improvement_statistic(ours: np.ndarray, theirs: np.ndarray, axis: int = -1) -> np.ndarray:
    """rliable's P(X > Y): over every pair (i, j) of runs, 1 if ours[i] beats theirs[j], ½ on a tie."""
    wins = ours[..., :, None] > theirs[..., None, :]
    ties = ours[..., :, None] == theirs[..., None, :]
    return (wins + 0.5 * ties).mean(axis=(-2, -1))


def probability_of_improvement(
    row: Sequence[float], baseline: Sequence[float], lower_is_better: bool, confidence: float = CONFIDENCE
) -> Improvement:
    """P(row better than baseline) as rliable defines it (Agarwal et al. 2021), over matched seeds.

    The interval is a seeded percentile bootstrap (scipy) that resamples seeds with both rows'
    values together, since matched seeds share their randomness. NaN interval below 2 seeds.
    """
    if len(row) != len(baseline):
        raise ValueError(f"matched samples differ in length: {len(row)} vs {len(baseline)}")
    sign = -1.0 if lower_is_better else 1.0
    ours, theirs = sign * np.asarray(row, dtype=float), sign * np.asarray(baseline, dtype=float)
    if ours.size == 0:
        return Improvement(math.nan, math.nan, math.nan)
    probability = float(_improvement_statistic(ours, theirs))
    if ours.size < 2:
        return Improvement(probability, math.nan, math.nan)
    result = stats.bootstrap(
        (ours, theirs),
        _improvement_statistic,
        paired=True,
        vectorized=True,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return Improvement(probability, float(result.confidence_interval.low), float(result.confidence_interval.high))


@dataclass(frozen=True)
class Equivalence:
    """Two one-sided tests of |mean difference| < margin: equivalent when the (1 − 2α) interval lies inside ±margin."""

    margin: float
    low: float  # the 1 − 2α paired-t interval
    high: float
    p_value: float  # max of the two one-sided p-values; NaN below 2 pairs
    equivalent: bool


def equivalence_test(differences: Sequence[float], margin: float, alpha: float = ALPHA) -> Equivalence:
    """TOST (Schuirmann 1987) on paired differences; rows agreeing exactly on every seed are equivalent."""
    interval = seed_interval(list(differences), 1 - 2 * alpha)
    if interval.n < 2 or math.isnan(interval.std):
        return Equivalence(margin, math.nan, math.nan, math.nan, False)
    if interval.std == 0:
        inside = abs(interval.mean) < margin
        return Equivalence(margin, interval.mean, interval.mean, 0.0 if inside else 1.0, inside)
    stderr = interval.std / math.sqrt(interval.n)
    df = interval.n - 1
    p_lower = float(stats.t.sf((interval.mean + margin) / stderr, df))  # H0: difference ≤ −margin
    p_upper = float(stats.t.cdf((interval.mean - margin) / stderr, df))  # H0: difference ≥ +margin
    p_value = max(p_lower, p_upper)
    return Equivalence(margin, interval.low, interval.high, p_value, p_value < alpha)
