"""What the seeds can tell, against numbers worked out by hand or published.

Closed forms used (none is the code under test):
- Seeds needed, paired/one-sample t, two-sided α = 0.05, power 0.8: G*Power's published sample sizes,
  n = 34 for a standardised effect d = 0.5 and n = 15 for d = 0.8.
- Detectable difference: Guenther's (1981) approximation n = (z₀.₉₇₅ + z₀.₈)² / d² + z₀.₉₇₅² / 2,
  i.e. d = (z₀.₉₇₅ + z₀.₈) / √(n − z₀.₉₇₅² / 2), accurate to about 1% from n = 20.
- Student t CDFs: df = 2, P(T > t) = 1/2 − t / (2√(t² + 2)); df = 4,
  F(t) = 1/2 + (3/8)·u·(1 − t²/(12(1 + t²/4))) with u = t / √(1 + t²/4).
- Probability of improvement: counting matched seeds won (ties ½) by hand; Clopper–Pearson ends from
  the binomial tail P(X ≥ k) = α/2 written out.
"""

from __future__ import annotations

import math

import pytest
from scipy import optimize

from attnlab.reports.aggregate import aggregate
from attnlab.reports.cells import cell_frame
from attnlab.stats.comparisons import (
    detectable_difference,
    equivalence_test,
    paired_power,
    probability_of_improvement,
    seeds_needed,
)
from tests.test_aggregate import hand_records, hand_spec

Z_975, Z_80 = 1.959963984540054, 0.8416212335729143  # normal table
T_95_DF4 = 2.131846786326649  # Student t table, one-sided 95%, 4 df
T_95_DF2 = 2.919985580355516


def _t4_sf(t: float) -> float:
    u = t / math.sqrt(1 + t * t / 4)
    return 0.5 - 3 / 8 * u * (1 - t * t / (12 * (1 + t * t / 4)))


def _t2_sf(t: float) -> float:
    return 0.5 - t / (2 * math.sqrt(t * t + 2))


def test_seeds_needed_matches_gpower() -> None:
    assert seeds_needed(0.5, 1.0) == 34
    assert seeds_needed(0.8, 1.0) == 15
    assert seeds_needed(1.0, 2.0) == 34  # only effect / spread matters
    assert seeds_needed(-0.5, 1.0) == 34  # either direction
    assert math.isnan(seeds_needed(0.5, math.nan))


def test_detectable_difference_matches_guenther_and_gpower() -> None:
    for pairs in (20, 50, 100):
        guenther = (Z_975 + Z_80) / math.sqrt(pairs - Z_975**2 / 2)
        assert detectable_difference(pairs, 1.0) == pytest.approx(guenther, rel=0.01)
    assert detectable_difference(10, 3.0) == pytest.approx(3 * detectable_difference(10, 1.0))
    # G*Power: 34 pairs detect d = 0.5 with power 0.8078, 33 do not reach 0.8.
    assert detectable_difference(34, 1.0) < 0.5 < detectable_difference(33, 1.0)
    assert paired_power(34, 0.5, 1.0) == pytest.approx(0.8078, abs=1e-4)
    assert math.isnan(detectable_difference(1, 1.0))
    assert math.isnan(detectable_difference(5, 0.0))


def test_probability_of_improvement_counts_matched_seeds() -> None:
    # Lower is better. Seed 0: 1 beats 2; seed 1: 2 ties 2 (½); seed 2: 3 beats 4: (2 + ½) / 3.
    improvement = probability_of_improvement([1.0, 2.0, 3.0], [2.0, 2.0, 4.0], lower_is_better=True)
    assert improvement.probability == pytest.approx(2.5 / 3)
    # Clopper–Pearson: the lower end from 2 wins of 3 solves P(X ≥ 2) = 3p² − 2p³ = 0.025; the upper end
    # counts the tie as won, 3 of 3, so it is 1.
    assert improvement.low == pytest.approx(optimize.brentq(lambda p: 3 * p**2 - 2 * p**3 - 0.025, 0, 1))
    assert improvement.high == 1.0
    # Higher is better: the seed it loses, the tie still ½.
    assert probability_of_improvement([1.0, 2.0, 3.0], [2.0, 2.0, 4.0], False).probability == pytest.approx(0.5 / 3)
    # Winning every one of 3 seeds is no certainty: the exact lower end is 0.025^(1/3) = 0.292.
    dominant = probability_of_improvement([1.0, 1.5, 1.2], [5.0, 6.0, 7.0], lower_is_better=True)
    assert (dominant.probability, dominant.high) == (1.0, 1.0)
    assert dominant.low == pytest.approx(0.025 ** (1 / 3))
    # Bit-identical runs differ by float rounding at most: ties, P = ½ with the widest interval.
    same = probability_of_improvement([0.1 + 0.2] * 3, [0.3] * 3, lower_is_better=True)  # 5.6e-17 apart
    assert (same.probability, same.low, same.high) == (0.5, 0.0, 1.0)
    single = probability_of_improvement([1.0], [2.0], lower_is_better=True)
    assert (single.probability, single.low, single.high) == (1.0, pytest.approx(0.025), 1.0)


def test_equivalence_tost_by_hand() -> None:
    differences = [0.1, -0.1, 0.0, 0.2, -0.2]  # mean 0, sample std √0.025, standard error √0.025 / √5
    stderr = math.sqrt(0.025 / 5)
    inside = equivalence_test(differences, margin=0.2)
    assert (inside.low, inside.high) == (pytest.approx(-T_95_DF4 * stderr), pytest.approx(T_95_DF4 * stderr))
    assert inside.p_value == pytest.approx(_t4_sf(0.2 / stderr))  # both one-sided tests alike: mean is 0
    assert inside.equivalent  # 90% interval ±0.1507 inside ±0.2
    assert not equivalence_test(differences, margin=0.15).equivalent  # ±0.1507 reaches past ±0.15
    assert equivalence_test([0.0, 0.0, 0.0], margin=0.1).equivalent  # identical on every seed
    assert math.isnan(equivalence_test([0.3], margin=1.0).p_value)


def test_report_columns_by_hand() -> None:
    """Row 'a' of the hand study: differences a − base on seeds 0, 1, 2 are −1, −0.5, −1."""
    spec = hand_spec()
    summary = aggregate(cell_frame(hand_records(), spec), spec, effect=0.5, margin=1.5).set_index("row")
    a = summary.loc["a"]
    spread = math.sqrt(((1 / 6) ** 2 * 2 + (1 / 3) ** 2) / 2)  # sample std of (−1, −0.5, −1) = √(1/12)
    assert a["paired.std"] == pytest.approx(spread)
    assert a["paired.mdd"] == pytest.approx(detectable_difference(3, spread))
    assert a["paired.seeds_needed"] == seeds_needed(0.5, spread)
    assert a["poi"] == 1.0  # a = (29, 30.5, 28) vs base = (30, 31, 29), lower is better: every seed won
    assert (a["poi.ci_low"], a["poi.ci_high"]) == (pytest.approx(0.025 ** (1 / 3)), 1.0)
    stderr = spread / math.sqrt(3)
    mean = -5 / 6
    assert a["tost.ci_low"] == pytest.approx(mean - T_95_DF2 * stderr)
    assert a["tost.p"] == pytest.approx(_t2_sf((mean + 1.5) / stderr))  # the binding side: difference ≤ −1.5
    assert a["tost.equivalent"]
    assert a["verdict"] == "equivalent within ±1.5 (TOST p=0.029)"  # within noise after Holm, but equivalent
    assert summary.loc["b", "verdict"].startswith("within noise")  # 2 pairs, interval far wider than ±1.5
    assert math.isnan(summary.loc["base", "paired.mdd"])
