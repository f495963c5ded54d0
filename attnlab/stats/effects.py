"""Effects of a two-level factorial study, with intervals and verdicts by the same rules as a row comparison.

With one replicate of the design per seed (the seed a block), each seed's contrast of an effect (mean at the
high level minus mean at the low level) is an independent estimate of it; the seed-to-seed spread of the contrasts
is the effect's noise. So the paired machinery of :mod:`attnlab.stats.comparisons` applies to the contrasts as it
does to a row's paired differences: a one-sample t interval and p, Holm over the effects, TOST against ±δ, the MDD
and the seeds a given effect needs. A linear model (statsmodels OLS, seed as a block, every estimated effect as a
±1 regressor) is the cross-check: with a balanced design its coefficients are half the contrasts exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from attnlab.stats.comparisons import (
    ALPHA,
    detectable_difference,
    equivalence_tests,
    holm,
    paired_t_tests,
    seeds_needed,
)
from attnlab.stats.designs import TwoLevelDesign, effect_contrasts


@dataclass(frozen=True)
class Effect:
    """One main effect or two-factor interaction of a factorial study, estimated over its seeds."""

    word: str  # "a", "ab": the design's letters
    name: str  # "channel", "channel × spatial": the study's axes
    aliases: tuple[str, ...]  # other effects estimated by the same contrast (none in a full factorial)
    seeds: int
    estimate: float  # metric units: mean at the high level minus the low level (interactions: half-difference form)
    low: float
    high: float
    p_value: float
    p_holm: float
    std: float  # seed-to-seed spread of the contrast
    mdd: float  # smallest true effect found with 80% power at these seeds and this spread
    seeds_for_effect: float  # seeds a true effect of the asked size needs (NaN when none asked)
    tost_p: float  # NaN when no margin asked
    verdict: str


def effect_name(design: TwoLevelDesign, word: str) -> str:
    return " × ".join(design.factor_of(letter) for letter in word)


def estimable_words(design: TwoLevelDesign) -> list[str]:
    """Main effects, then the two-factor interactions the design estimates clear of main effects and each other."""
    return [*[design.letter(factor) for factor in design.factors], *design.clear_interactions()]


def factorial_effects(
    design: TwoLevelDesign,
    responses: np.ndarray,
    lower_is_better: bool,
    margin: float | None = None,
    effect: float | None = None,
    alpha: float = ALPHA,
) -> list[Effect]:
    """Every estimable effect from ``responses`` (one row per seed, one column per run of the design)."""
    words = estimable_words(design)
    per_effect = effect_contrasts(design, words, responses).T  # effects x seeds
    seeds = per_effect.shape[1]
    mean, low, high, p_value = paired_t_tests(per_effect, 1 - alpha)
    std = per_effect.std(axis=1, ddof=1) if seeds > 1 else np.full(len(words), math.nan)
    tested = [value for value in p_value if math.isfinite(value)]
    adjusted = iter(holm(tested))
    p_holm = [next(adjusted) if math.isfinite(value) else math.nan for value in p_value]
    if margin is not None:
        _, _, tost_p, equivalent = equivalence_tests(per_effect, margin, alpha)
    else:
        tost_p, equivalent = np.full(len(words), math.nan), np.zeros(len(words), dtype=bool)
    effects = []
    for index, word in enumerate(words):
        spread = float(std[index]) if math.isfinite(p_value[index]) else math.nan
        verdict = _verdict(word, float(mean[index]), p_holm[index], bool(equivalent[index]), margin, lower_is_better)
        effects.append(
            Effect(
                word=word,
                name=effect_name(design, word),
                aliases=tuple(effect_name(design, other) for other in design.aliases_of(word)),
                seeds=seeds,
                estimate=float(mean[index]),
                low=float(low[index]),
                high=float(high[index]),
                p_value=float(p_value[index]),
                p_holm=float(p_holm[index]),
                std=spread,
                mdd=detectable_difference(seeds, spread, alpha) if math.isfinite(spread) else math.nan,
                seeds_for_effect=seeds_needed(effect, spread, alpha) if effect and math.isfinite(spread) else math.nan,
                tost_p=float(tost_p[index]),
                verdict=verdict,
            )
        )
    return effects


def _verdict(
    word: str, estimate: float, p_holm: float, equivalent: bool, margin: float | None, lower_is_better: bool
) -> str:
    """The row comparison's rule: beyond noise after Holm, else equivalent within ±δ, else within noise."""
    if not math.isfinite(p_holm):
        return "n/a: no noise estimate"
    if p_holm < ALPHA:
        if len(word) > 1:
            return "interaction beyond noise"
        return "better" if (estimate < 0) == lower_is_better else "worse"  # the high level against the low
    if margin is not None and equivalent:
        return f"equivalent within ±{margin:g}"
    return "within noise"


def ols_cross_check(design: TwoLevelDesign, responses: np.ndarray) -> dict[str, tuple[float, float]]:
    """statsmodels OLS of every run on seed blocks and the estimable effects: effect -> (estimate, std error).

    The coefficient of a ±1 regressor is half the high-minus-low contrast, so both are doubled to metric units;
    its standard error pools the residual over all runs (the per-seed contrast analysis does not pool).
    """
    import statsmodels.api as sm

    responses = np.atleast_2d(np.asarray(responses, dtype=float))
    seeds, runs = responses.shape
    words = estimable_words(design)
    effects = np.tile(design.columns(words), (seeds, 1))
    blocks = np.kron(np.eye(seeds), np.ones((runs, 1)))  # one intercept per seed
    fit = sm.OLS(responses.reshape(-1), np.hstack([blocks, effects])).fit()
    return {
        word: (2 * float(fit.params[seeds + index]), 2 * float(fit.bse[seeds + index]))
        for index, word in enumerate(words)
    }
