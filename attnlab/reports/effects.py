"""The Effects section of a factorial study's report: the design's effects over the seeds that completed every run.

A seed is one replicate of the design (the seed a block), so a seed with any run not complete gives no contrast
and is left out whole, and the report says how many were; below two complete replicates no effect has a noise
estimate, so the table says so instead of numbers, as a row comparison with one seed pair does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from attnlab.ablations.factorial import FactorialLayout, design_responses, named_generators
from attnlab.reports.aggregate import format_p
from attnlab.reports.cells import COMPLETE
from attnlab.reports.spec import StudySpec
from attnlab.stats.comparisons import ALPHA, CONFIDENCE
from attnlab.stats.designs import RESOLUTIONS, TwoLevelDesign
from attnlab.stats.effects import Effect, effect_name, estimable_words, factorial_effects, ols_cross_check

MIN_REPLICATES = 2
NEEDS_SEEDS = f"n/a: needs {MIN_REPLICATES} seeds"
SHOWN_ALIAS_ORDER = 3  # aliases up to three-factor interactions by name; longer words counted


@dataclass(frozen=True)
class EffectsAnalysis:
    """A factorial study's effects, the complete replicates they rest on and the seeds left out."""

    layout: FactorialLayout
    metric: str
    seeds: tuple[int, ...]  # seeds with every run of the design complete: one replicate each
    left_out: tuple[int, ...]  # the study's other seeds (a run failed, running or missing)
    responses: np.ndarray  # seeds x runs of the metric
    effects: dict[str, Effect]  # word -> effect; empty below MIN_REPLICATES
    ols_difference: float  # max |contrast estimate − OLS estimate| over the effects; NaN without effects
    margin: float | None
    effect: float | None

    @property
    def design(self) -> TwoLevelDesign:
        return self.layout.design

    @property
    def words(self) -> list[str]:
        return estimable_words(self.design)


def analyse_effects(
    layout: FactorialLayout, cells: pd.DataFrame, spec: StudySpec, effect: float | None, margin: float | None
) -> EffectsAnalysis:
    """The effects of ``spec.metric`` over the seeds whose every run is complete (none below two of them)."""
    complete = cells[cells["state"] == COMPLETE].set_index(["row", "seed"])[spec.metric]

    def value(row: str, seed: int) -> float | None:
        return float(complete[(row, seed)]) if (row, seed) in complete.index else None

    responses, seeds = design_responses(layout, value, spec.seeds)
    effects: dict[str, Effect] = {}
    difference = math.nan
    if len(seeds) >= MIN_REPLICATES:
        found = factorial_effects(layout.design, responses, spec.direction == "minimize", margin, effect)
        effects = {found_effect.word: found_effect for found_effect in found}
        ols = ols_cross_check(layout.design, responses)
        difference = max(abs(effects[word].estimate - ols[word][0]) for word in effects)
    left_out = tuple(seed for seed in spec.seeds if seed not in seeds)
    return EffectsAnalysis(layout, spec.metric, seeds, left_out, responses, effects, difference, margin, effect)


def levels_text(layout: FactorialLayout, word: str) -> str:
    """``on vs off`` for a main effect; for an interaction, the runs at like levels against those at unlike."""
    factors = [layout.design.factor_of(letter) for letter in word]
    if len(factors) == 1:
        low, high = layout.levels[factors[0]]
        return f"{high} vs {low}"
    (first_low, first_high), (second_low, second_high) = (layout.levels[factor] for factor in factors)
    like, unlike = (
        f"{first_high}·{second_high} & {first_low}·{second_low}",
        f"{first_high}·{second_low} & {first_low}·{second_high}",
    )
    return f"{like} vs {unlike}"


def aliases_text(design: TwoLevelDesign, word: str) -> str:
    """The effects this estimate also contains: ``none`` in a full factorial; longer words counted, not named."""
    aliases = design.aliases_of(word)
    named = [effect_name(design, other) for other in aliases if len(other) <= SHOWN_ALIAS_ORDER]
    longer = len(aliases) - len(named)
    if longer:
        named.append(f"+{longer} of order > {SHOWN_ALIAS_ORDER}")
    return ", ".join(named) or "none"


def verdict_text(found: Effect, margin: float | None) -> str:
    """The stats verdict in the row comparisons' words, with the p-value it rests on."""
    verdict = found.verdict
    if verdict.startswith("n/a"):
        return "n/a: the same contrast on every seed (no noise estimate)"
    tost = f"TOST p={format_p(found.tost_p)}"
    if verdict.startswith("equivalent"):
        return f"{verdict} ({tost})"
    text = f"{verdict} (p_Holm={format_p(found.p_holm)})"
    if margin is not None and verdict != "within noise" and found.tost_p < ALPHA:
        text += f"; equivalent within ±{margin:g} ({tost})"
    return text


def design_text(design: TwoLevelDesign) -> str:
    """``full factorial 2^2, 4 runs per seed: nothing aliased`` or the fraction with its generators."""
    factors = len(design.factors)
    if design.kind == "full":
        return f"full factorial 2^{factors}, {design.runs} runs per seed: nothing aliased"
    fraction = factors - design.runs.bit_length() + 1
    roman = next(name for name, level in RESOLUTIONS.items() if level == design.resolution)
    return (
        f"2^({factors}−{fraction}) fraction of resolution {roman}, {design.runs} runs per seed, generators "
        f"{', '.join(named_generators(design))}: each estimate is its effect plus its aliases (column 'Aliases'), "
        "read as the effect on the assumption that those are negligible"
    )


def seeds_text(analysis: EffectsAnalysis) -> str:
    """``3 of 4 seeds completed every run and count; 1 left out (seed 3: a run not complete)``."""
    total = len(analysis.seeds) + len(analysis.left_out)
    text = f"{len(analysis.seeds)} of {total} seeds completed every run of the design and count"
    if analysis.left_out:
        seeds = ", ".join(str(seed) for seed in analysis.left_out)
        text += f"; {len(analysis.left_out)} left out (seed {seeds}: a run failed, running or missing)"
    return text


def method_note(analysis: EffectsAnalysis) -> str:
    """How the Effects table was computed and which aliasing it rests on."""
    level = f"{CONFIDENCE:.0%}"
    return (
        f"Effects ({design_text(analysis.design)}): one replicate of the design per seed (the seed a block). Each "
        f"effect's per-seed contrast, the mean of {analysis.metric} over the runs at its high level minus over those "
        "at its low level (an interaction: the runs at like levels minus those at unlike ones, half the change of "
        f"one axis's effect across the other's levels), is one independent estimate; over the seeds it gives a "
        f"Student t {level} interval and p, Holm–Bonferroni over the {len(analysis.words)} effects, and the verdict, "
        f"MDD, seeds needed and TOST by the row comparisons' rules. {seeds_text(analysis)}."
    )


def ols_note(analysis: EffectsAnalysis) -> str:
    """The linear-model cross-check's agreement with the contrasts."""
    return (
        "Effects cross-check: statsmodels OLS of every run on one intercept per seed and the effects' ±1 columns "
        f"gives the same estimates (max |difference| {analysis.ols_difference:.1e} in {analysis.metric})."
    )


def effects_payload(analysis: EffectsAnalysis) -> dict[str, Any]:
    """The Effects table for ``--format json`` and summary.json: NaN as null, every column the table shows."""
    rows = []
    for word in analysis.words:
        found = analysis.effects.get(word)
        row: dict[str, Any] = {
            "effect": effect_name(analysis.design, word),
            "word": word,
            "levels": levels_text(analysis.layout, word),
            "aliases": [effect_name(analysis.design, other) for other in analysis.design.aliases_of(word)],
        }
        if found is None:
            row |= dict.fromkeys(_NUMBERS) | {"verdict": NEEDS_SEEDS}
        else:
            row |= {key: _finite(getattr(found, key)) for key in _NUMBERS}
            row["verdict"] = verdict_text(found, analysis.margin)
        rows.append(row)
    return {
        "design": design_text(analysis.design),
        "generators": named_generators(analysis.design),
        "seeds": list(analysis.seeds),
        "left_out": list(analysis.left_out),
        "ols_max_difference": _finite(analysis.ols_difference),
        "effects": rows,
    }


_NUMBERS = ("estimate", "low", "high", "p_value", "p_holm", "std", "mdd", "seeds_for_effect", "tost_p")


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
