"""Seed statistics: a Student t interval per row and a paired t-test against the baseline row.

Seeds are few (3 to 5), so intervals use Student's t with n - 1 degrees of freedom rather than a
normal approximation, and rows are compared to the baseline on matched seeds (paired), which
removes the shared seed-to-seed noise that an unpaired test would count against the difference.
Comparing many rows to one baseline inflates false positives; :func:`holm` adjusts the p-values.
Each test has an array form over many studies at once (``*_intervals`` / ``*_tests``), which the
report's scalar functions call and the coverage simulations (:mod:`attnlab.stats.coverage`) use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE


RESOLUTION = 1e-9  # relative: a spread within RESOLUTION · max(1, |mean|) is float rounding, not noise


def without_spread(std: np.ndarray | float, mean: np.ndarray | float) -> np.ndarray:
    """Where a spread is within the metric's float resolution (or missing): no noise estimate there.

    Bit-identical differences such as 1/12 − 0 on every seed give a sample std of ~1e-17, not 0; a
    t statistic over that spread would claim certainty, so such a spread counts as none at all.
    """
    return ~(np.asarray(std) > RESOLUTION * np.maximum(1.0, np.abs(mean)))


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
    p_value: float  # two-sided; NaN for fewer than 2 pairs or without a noise estimate


def _t_critical(n: int | np.ndarray, confidence: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return stats.t.ppf(0.5 + confidence / 2, np.asarray(n) - 1)


def student_intervals(samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, ...]:
    """Mean, sample std and Student t interval along the last axis (many studies at once, for simulation too).

    Returns (mean, std, low, high); std and the interval are NaN below 2 values.
    """
    samples = np.asarray(samples, dtype=float)
    n = samples.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = samples.sum(axis=-1) / n
        squares = ((samples - mean[..., None]) ** 2).sum(axis=-1)
        std = np.sqrt(squares / (n - 1)) if n >= 2 else np.full(mean.shape, np.nan)
        std = np.where(without_spread(std, mean) & (n >= 2), 0.0, std)  # rounding is not a spread
        half_width = _t_critical(n, confidence) * std / math.sqrt(n)
    return mean, std, mean - half_width, mean + half_width


def seed_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> SeedInterval:
    """The mean of ``values`` with its Student t interval; the spread is NaN below 2 values."""
    if len(values) == 0:
        return SeedInterval(0, math.nan, math.nan, math.nan, math.nan)
    mean, std, low, high = (float(value) for value in student_intervals(np.asarray(values, dtype=float), confidence))
    return SeedInterval(len(values), mean, std, low, high)


def _noise_estimate(differences: np.ndarray, mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(agree, untestable): rows equal on every seed, and the others with no noise estimate (:func:`without_spread`)."""
    flat = without_spread(std, mean)
    agree = flat & (differences.shape[-1] >= 2) & (np.abs(differences) <= RESOLUTION).all(axis=-1)
    return agree, flat & ~agree


def paired_t_tests(differences: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, ...]:
    """Paired t-tests along the last axis of ``differences``: (mean, low, high, p), NaN where nothing is testable.

    Without a noise estimate (fewer than 2 pairs, or a spread within float resolution) p and the
    interval are NaN, except that differences of 0 everywhere (the rows agree) give p = 1 and
    [0, 0]: claiming an effect from, say, three identical differences of a quantised error rate would
    be overconfident.
    """
    differences = np.asarray(differences, dtype=float)
    n = differences.shape[-1]
    mean, std, low, high = student_intervals(differences, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_value = 2 * stats.t.sf(np.abs(mean) / (std / math.sqrt(n)), n - 1)
    agree, untestable = _noise_estimate(differences, mean, std)
    p_value = np.where(agree, 1.0, np.where(untestable, np.nan, p_value))
    mean = np.where(agree, 0.0, mean)
    low, high = (np.where(agree, 0.0, np.where(untestable, np.nan, bound)) for bound in (low, high))
    return mean, low, high, p_value


def paired_t_test(treatment: Sequence[float], control: Sequence[float], confidence: float = CONFIDENCE) -> PairedTest:
    """Paired t-test over matched seeds (``treatment[i]`` and ``control[i]`` share seed i): :func:`paired_t_tests`."""
    if len(treatment) != len(control):
        raise ValueError(f"paired samples differ in length: {len(treatment)} vs {len(control)}")
    if len(treatment) == 0:
        return PairedTest(0, math.nan, math.nan, math.nan, math.nan)
    differences = np.asarray(treatment, dtype=float) - np.asarray(control, dtype=float)
    mean, low, high, p_value = (float(value) for value in paired_t_tests(differences, confidence))
    return PairedTest(len(differences), mean, low, high, p_value)


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


IMPROVEMENT_DEFINITION = (
    "P(better): the share of matched seeds on which the row's run beats the baseline's run of the same seed "
    "(a tie, within float resolution, counts ½), an estimate of P(row beats baseline on a seed); its 95% interval "
    "is exact (Clopper–Pearson on the seeds won, the ties counted as lost for the lower end and as won for the "
    "upper), so it keeps its coverage at any number of seeds and whatever the shape of the differences."
)


COVERAGE_NOTE = (
    "Coverage, simulated at 3, 5 and 10 seed pairs (benchmarks/interval_coverage.py): the Student t intervals (a "
    "row's 95% CI, Δ vs baseline, TOST, the repeated CIs) keep their level when the seed-to-seed differences are "
    "roughly normal, and assume it: with bimodal differences (two modes) they cover 88% at 3 pairs, 93% at 5 and "
    "nearly 95% at 10 (TOST's error 7% at 3 pairs); with skewed ones (a centred exponential) 88–91% at 3 to 10 "
    "pairs, and TOST then wrongly says 'equivalent' up to 16% of the time instead of 5%. No interval for a mean "
    "keeps its level whatever the shape at so few seeds; P(better)'s exact interval does (at least 95% at every "
    "number of seeds)."
)


@dataclass(frozen=True)
class Improvement:
    """P(row better than baseline on a matched seed) with its exact binomial interval."""

    probability: float
    low: float
    high: float


def clopper_pearson(successes: np.ndarray, trials: int, confidence: float = CONFIDENCE) -> tuple[np.ndarray, ...]:
    """The exact (Clopper–Pearson) two-sided interval of a binomial proportion: (low, high), elementwise."""
    successes = np.asarray(successes, dtype=float)
    tail = (1 - confidence) / 2
    with np.errstate(invalid="ignore"):
        low = np.where(successes > 0, stats.beta.ppf(tail, successes, trials - successes + 1), 0.0)
        high = np.where(successes < trials, stats.beta.isf(tail, successes + 1, trials - successes), 1.0)
    return low, high


def improvement_intervals(gains: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, ...]:
    """P(better) along the last axis of ``gains`` (positive: the row did better on that seed): (p, low, high).

    O(n) per row and no n × n pairs, so hundreds of seeds per row cost nothing. Seeds are independent,
    so the count of seeds won is binomial and Clopper–Pearson's interval is exact; ties (a gain within
    float resolution) make the estimand P(win) + ½P(tie), which lies between P(win) and P(win or tie),
    so the lower end bounds the first and the upper end the second (each at (1 − confidence) / 2).
    """
    gains = np.asarray(gains, dtype=float)
    n = gains.shape[-1]
    tie = np.abs(gains) <= RESOLUTION
    wins = ((gains > 0) & ~tie).sum(axis=-1)
    ties = tie.sum(axis=-1)
    low, _ = clopper_pearson(wins, n, confidence)
    _, high = clopper_pearson(wins + ties, n, confidence)
    return (wins + 0.5 * ties) / n, low, high


def probability_of_improvement(
    row: Sequence[float], baseline: Sequence[float], lower_is_better: bool, confidence: float = CONFIDENCE
) -> Improvement:
    """P(row better than baseline) over matched seeds; see :data:`IMPROVEMENT_DEFINITION`. NaN without seeds."""
    if len(row) != len(baseline):
        raise ValueError(f"matched samples differ in length: {len(row)} vs {len(baseline)}")
    if len(row) == 0:
        return Improvement(math.nan, math.nan, math.nan)
    gains = np.asarray(row, dtype=float) - np.asarray(baseline, dtype=float)
    probability, low, high = improvement_intervals(-gains if lower_is_better else gains, confidence)
    return Improvement(float(probability), float(low), float(high))


@dataclass(frozen=True)
class Equivalence:
    """Two one-sided tests of |mean difference| < margin: equivalent when the (1 − 2α) interval lies inside ±margin."""

    margin: float
    low: float  # the 1 − 2α paired-t interval
    high: float
    p_value: float  # max of the two one-sided p-values; NaN below 2 pairs or without a noise estimate
    equivalent: bool


def equivalence_tests(differences: np.ndarray, margin: float, alpha: float = ALPHA) -> tuple[np.ndarray, ...]:
    """TOST (Schuirmann 1987) along the last axis of ``differences``: (low, high, p, equivalent).

    The same no-noise rule as :func:`paired_t_tests`: rows agreeing exactly on every seed are
    equivalent (p = 0); any other spread within float resolution is no noise estimate, no verdict.
    """
    differences = np.asarray(differences, dtype=float)
    n = differences.shape[-1]
    mean, std, low, high = student_intervals(differences, 1 - 2 * alpha)
    agree, untestable = _noise_estimate(differences, mean, std)
    with np.errstate(invalid="ignore", divide="ignore"):
        stderr = std / math.sqrt(n)
        p_lower = stats.t.sf((mean + margin) / stderr, n - 1)  # H0: difference ≤ −margin
        p_upper = stats.t.cdf((mean - margin) / stderr, n - 1)  # H0: difference ≥ +margin
    p_value = np.where(agree, 0.0, np.where(untestable, np.nan, np.maximum(p_lower, p_upper)))
    low, high = (np.where(agree, 0.0, np.where(untestable, np.nan, bound)) for bound in (low, high))
    return low, high, p_value, agree | (p_value < alpha)


def equivalence_test(differences: Sequence[float], margin: float, alpha: float = ALPHA) -> Equivalence:
    """TOST on one row's paired differences; see :func:`equivalence_tests`."""
    if len(differences) == 0:
        return Equivalence(margin, math.nan, math.nan, math.nan, False)
    low, high, p_value, equivalent = equivalence_tests(np.asarray(differences, dtype=float), margin, alpha)
    return Equivalence(margin, float(low), float(high), float(p_value), bool(equivalent))
