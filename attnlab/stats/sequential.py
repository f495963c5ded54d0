"""Seeds until decided: a group-sequential rule on paired differences that holds its error rates under
optional stopping.

Method: repeated confidence intervals (Jennison & Turnbull 1989) of a two-sided group-sequential
test with Lan–DeMets O'Brien–Fleming-type alpha spending over the planned looks t = seeds / max
seeds. The seed-to-seed noise is estimated from the same few seeds, so the boundaries are on the
paired t statistics themselves, calibrated to the spending on their joint law (simulated once,
seeded, and stored with the plan). Carrying normal-theory boundaries to t by their nominal level
(Jennison & Turnbull 1999, §11.4) was measured to overshoot α by 5–10% with 3 to 5 seeds; these
do not (tests/test_stats_sequential.py).

At each look a row's paired difference (row − baseline) gets two intervals with simultaneous
coverage over all looks: at level 1 − α (a *difference* when it excludes 0) and at level 1 − 2α
(*equivalent within ±δ* when it lies inside (−δ, δ): the sequential form of two one-sided tests).
Because the coverage is simultaneous, stopping a row the first time either happens keeps both
error rates at α, however the looks fall. α is split evenly over the compared rows (Bonferroni),
so the whole table holds its familywise rate. Rows are replayed from stored results only, so every
launcher, at any time, derives the same schedule.

A factorial study (:func:`replay_factorial`) is decided effect by effect on the same boundaries: with one
replicate of the design per seed, each effect's per-seed contrast is one independent estimate, so it plays the
part of a row's paired difference; α is split over the estimable effects, and each round adds the next seeds to
*every* run of the design while any effect is open (a contrast needs the whole replicate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from attnlab.errors import ConfigError
from attnlab.stats.comparisons import RESOLUTION, without_spread
from attnlab.stats.designs import TwoLevelDesign, effect_contrasts
from attnlab.stats.effects import effect_name, estimable_words

METHOD = (
    "group-sequential repeated confidence intervals, Lan–DeMets O'Brien–Fleming-type α spending over the "
    "planned looks, Student t at each look (Jennison & Turnbull)"
)
PLAN_ATTR = "attnlab.sequential_plan"  # study-level user attribute: the plan, as SequentialPlan.to_dict()
DEFAULT_ALPHA = 0.05
CALIBRATION_PATHS = 200_000  # simulated null paths per boundary set: Monte-Carlo error of the level ≈ 0.0005
CALIBRATION_SEED = 8
_MIN_SIMULATED_EXITS = 50  # fewer simulated crossings than this: the look uses its exact marginal quantile

OPEN, BETTER_OR_WORSE, EQUIVALENT = 0, 1, 2  # look verdict codes; the sign of the difference says which way


def obrien_fleming_spending(fraction: np.ndarray | float, alpha: float) -> np.ndarray:
    """Cumulative two-sided α spent by information fraction ``fraction``: α/2 per side, each side spent by
    Lan & DeMets' O'Brien–Fleming-type function 2 − 2Φ(z₁₋α/₄ / √t) (the convention of R's ldbounds)."""
    fraction = np.asarray(fraction, dtype=float)
    return 2 * (2.0 - 2.0 * stats.norm.cdf(stats.norm.isf(alpha / 4) / np.sqrt(fraction)))


def calibrated_bounds(looks: Sequence[int], alpha: float, *, known_variance: bool = False) -> np.ndarray:
    """Two-sided boundaries b_k on |t_k| (|z_k| with ``known_variance``) at ``looks`` seeds, spending ``alpha``.

    Under no difference, the chance that a row first crosses at look k is the α spent at k. The
    joint law of the t statistics of one growing sample has no closed form and does not depend on
    the noise's scale, so it is simulated once (seeded) on standard normal paths. Looks whose
    spending is too small to simulate get the exact marginal quantile instead (which spends at most
    that much), as does the first look, whose marginal law is exact; later looks are fitted to the
    cumulative spending, so nothing is lost.
    """
    looks = np.asarray(looks)
    spent = obrien_fleming_spending(looks / looks[-1], alpha)
    rng = np.random.default_rng(CALIBRATION_SEED)
    total = np.zeros(CALIBRATION_PATHS)
    squares = np.zeros(CALIBRATION_PATHS)
    surviving = np.ones(CALIBRATION_PATHS, dtype=bool)
    bounds = np.empty(looks.size)
    previous = 0
    for look, seeds in enumerate(looks):
        draws = rng.standard_normal((CALIBRATION_PATHS, seeds - previous))
        total += draws.sum(axis=1)
        squares += (draws**2).sum(axis=1)
        previous = seeds
        if known_variance:
            statistic = np.abs(total) / math.sqrt(seeds)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                variance = (squares - total**2 / seeds) / (seeds - 1)
                statistic = np.abs(total / seeds) / np.sqrt(variance / seeds)
        exits = round(spent[look] * CALIBRATION_PATHS) - (CALIBRATION_PATHS - int(surviving.sum()))
        if seeds < 2 and not known_variance:
            bounds[look] = math.inf
        elif look == 0 or exits < _MIN_SIMULATED_EXITS:  # the first look's marginal law is its exact law
            increment = spent[look] - (spent[look - 1] if look else 0.0)
            marginal = stats.norm if known_variance else stats.t(seeds - 1)
            bounds[look] = marginal.isf(increment / 2) if increment > 0 else math.inf
        else:
            ranked = np.sort(statistic[surviving])[::-1]
            bounds[look] = (ranked[exits - 1] + ranked[exits]) / 2
        surviving &= ~(statistic >= bounds[look])
    return bounds


def _actual_df_bounds(bounds: np.ndarray, planned: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """A boundary set for ``planned`` pairs, moved to the ``pairs`` a row really has (failed cells) at equal level."""
    with np.errstate(invalid="ignore"):
        level = stats.t.sf(bounds, np.maximum(planned - 1, 1))
        return np.where(pairs == planned, bounds, stats.t.isf(level, np.maximum(pairs - 1, 1)))


def extended_seeds(seeds: Sequence[int], count: int) -> tuple[int, ...]:
    """The study's seeds, then the next unused integers above them, ``count`` in all."""
    extended = list(seeds)
    candidate = max(seeds) + 1
    while len(extended) < count:
        if candidate not in extended:
            extended.append(candidate)
        candidate += 1
    return tuple(extended[:count])


def _stored_bounds(bounds: Sequence[float | None]) -> tuple[float, ...]:
    return tuple(math.inf if bound is None else float(bound) for bound in bounds)


@dataclass(frozen=True)
class SequentialPlan:
    """Which seeds each look adds, the error rates and the boundaries; fixed before the first look, stored."""

    seeds: tuple[int, ...]  # every seed a row may get, in the order they are added (the study's first)
    first_look: int  # seeds every row gets up front: the study's own
    step: int  # seeds added to an open row per round
    margin: float | None  # equivalence margin δ, in the metric's units; None: only differences decide
    alpha: float  # familywise over the table
    compared_rows: int  # α is split over these (Bonferroni): compared rows, or a factorial study's effects
    difference_bounds: tuple[float, ...]  # |t| boundary per look of the 1 − α repeated intervals
    equivalence_bounds: tuple[float, ...]  # the same for 1 − 2α (two one-sided tests at α)

    @classmethod
    def for_study(
        cls,
        seeds: Sequence[int],
        max_seeds: int,
        *,
        step: int | None = None,
        margin: float | None = None,
        compared_rows: int = 1,
        alpha: float = DEFAULT_ALPHA,
    ) -> SequentialPlan:
        """A plan over the study's ``seeds`` up to ``max_seeds`` (default step: the study's seed count)."""
        if max_seeds < len(seeds):
            raise ConfigError(f"--max-seeds: {max_seeds} is below the study's {len(seeds)} seeds; use at least that")
        step = step if step is not None else len(seeds)
        if step < 1:
            raise ConfigError(f"--seeds-per-round: {step}; use 1 or more")
        if margin is not None and not (math.isfinite(margin) and margin > 0):
            raise ConfigError(f"--margin: {margin!r}; use a positive number in the metric's units")
        if not 0 < alpha < 0.25:
            raise ConfigError(f"alpha: {alpha!r}; use a level in (0, 0.25)")
        looks = looks_of(len(seeds), max_seeds, step)
        per_row = alpha / max(compared_rows, 1)
        return cls(
            seeds=extended_seeds(seeds, max_seeds),
            first_look=len(seeds),
            step=step,
            margin=margin,
            alpha=alpha,
            compared_rows=max(compared_rows, 1),
            difference_bounds=tuple(calibrated_bounds(looks, per_row)),
            equivalence_bounds=tuple(calibrated_bounds(looks, 2 * per_row)),
        )

    @property
    def max_seeds(self) -> int:
        return len(self.seeds)

    @property
    def looks(self) -> tuple[int, ...]:
        """Seeds per row at each look: the study's seeds, then ``step`` more each round, up to the maximum."""
        return looks_of(self.first_look, self.max_seeds, self.step)

    @property
    def alpha_per_row(self) -> float:
        return self.alpha / self.compared_rows

    def describe(self) -> str:
        margin = f", equivalence margin ±{self.margin:g}" if self.margin is not None else ""
        return (
            f"{METHOD}; looks at {', '.join(map(str, self.looks))} seeds, α = {self.alpha:g} familywise "
            f"(α = {self.alpha_per_row:.4g} per verdict, Bonferroni over {self.compared_rows} compared "
            f"row{'s' if self.compared_rows != 1 else ''} or effect{'s' if self.compared_rows != 1 else ''}){margin}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; boundaries are stored, so every reader decides with the same numbers."""
        finite = lambda bounds: [bound if math.isfinite(bound) else None for bound in bounds]  # noqa: E731
        return {
            "seeds": list(self.seeds),
            "first_look": self.first_look,
            "step": self.step,
            "margin": self.margin,
            "alpha": self.alpha,
            "compared_rows": self.compared_rows,
            "difference_bounds": finite(self.difference_bounds),
            "equivalence_bounds": finite(self.equivalence_bounds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SequentialPlan:
        return cls(
            **{
                **data,
                "seeds": tuple(data["seeds"]),
                "difference_bounds": _stored_bounds(data["difference_bounds"]),
                "equivalence_bounds": _stored_bounds(data["equivalence_bounds"]),
            }
        )


def looks_of(first: int, maximum: int, step: int) -> tuple[int, ...]:
    """Seeds per row at each look: ``first``, then ``step`` more each round, ending at ``maximum``."""
    return (*range(first, maximum, step), maximum)


@dataclass(frozen=True)
class LookResult:
    """Verdict codes and repeated confidence intervals of many rows (or simulated studies) at one look."""

    verdict: np.ndarray  # OPEN, BETTER_OR_WORSE or EQUIVALENT
    pairs: np.ndarray
    mean: np.ndarray
    low: np.ndarray  # 1 − α repeated confidence interval
    high: np.ndarray


def look_verdicts(differences: np.ndarray, look: int, plan: SequentialPlan) -> LookResult:
    """The verdict of each row of ``differences`` (rows × seeds so far; NaN = no pair) at look index ``look``."""
    differences = np.atleast_2d(np.asarray(differences, dtype=float))
    present = ~np.isnan(differences)
    pairs = present.sum(axis=1)
    filled = np.where(present, differences, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=1) / pairs
        spread = np.where(present, differences - mean[:, None], 0.0)
        std = np.sqrt((spread**2).sum(axis=1) / (pairs - 1))
        stderr = std / np.sqrt(pairs)
        planned = np.full(pairs.shape, plan.looks[look])
        half_width = _actual_df_bounds(plan.difference_bounds[look], planned, pairs) * stderr
        testable = (pairs >= 2) & ~without_spread(std, mean)  # a spread within float rounding is none
        # No spread at all and a zero difference: the rows agree exactly, which is within any margin.
        agree = (pairs >= 2) & ~testable & (np.abs(filled) <= RESOLUTION).all(axis=1)
        different = testable & (np.abs(mean) > half_width)
        verdict = np.where(different, BETTER_OR_WORSE, OPEN)
        if plan.margin is not None:
            eq_half_width = _actual_df_bounds(plan.equivalence_bounds[look], planned, pairs) * stderr
            inside = (testable & (np.abs(mean) + eq_half_width < plan.margin)) | agree
            verdict = np.where(~different & inside, EQUIVALENT, verdict)
        # Without a noise estimate there is no interval, except [0, 0] for rows that agree exactly.
        low = np.where(testable, mean - half_width, np.where(agree, 0.0, np.nan))
        high = np.where(testable, mean + half_width, np.where(agree, 0.0, np.nan))
    return LookResult(verdict=verdict, pairs=pairs, mean=mean, low=low, high=high)


def sequential_decisions(differences: np.ndarray, plan: SequentialPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs the rule on complete sequences (rows × max seeds): each row's verdict, stop look, and seeds spent.

    A row stops at the first look that decides it and sees no later seed; an undecided row runs to
    the last look. This is what the launcher's rounds do, all rows at once (the simulation's path).
    """
    differences = np.atleast_2d(np.asarray(differences, dtype=float))
    rows = differences.shape[0]
    verdict = np.full(rows, OPEN)
    stop = np.full(rows, len(plan.looks) - 1)
    spent = np.full(rows, plan.looks[-1])
    open_rows = np.ones(rows, dtype=bool)
    for look, seeds in enumerate(plan.looks):
        result = look_verdicts(differences[open_rows, :seeds], look, plan)
        decided = result.verdict != OPEN
        index = np.flatnonzero(open_rows)[decided]
        verdict[index] = result.verdict[decided]
        stop[index] = look
        spent[index] = seeds
        open_rows[index] = False
        if not open_rows.any():
            break
    return verdict, stop, spent


CellValue = Callable[[str, int], "float | None"]  # (row, seed) -> metric; NaN: failed for good; None: not finished


@dataclass(frozen=True)
class RowDecision:
    """Where one compared row stands after the looks its stored results allow."""

    baseline: str
    verdict: int  # OPEN, BETTER_OR_WORSE or EQUIVALENT
    look: int  # index of the last look taken (the deciding one for a decided row); -1: none yet
    pairs: int
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Schedule:
    """The replay of a study's looks from its stored results: decisions so far and the cells still to train."""

    plan: SequentialPlan
    decisions: dict[str, RowDecision]
    todo: list[tuple[str, int]]  # (row, seed) of the current round not finished yet; empty when done
    round: int  # index of the look the todo cells complete (len(looks) when every look is taken)

    @property
    def finished(self) -> bool:
        return not self.todo


def replay(plan: SequentialPlan, baselines: Mapping[str, str], value: CellValue) -> Schedule:
    """Replays the looks on stored results: the decisions so far and the current round's unfinished cells.

    ``baselines`` maps every row of the study to the row it is compared with (itself for a
    baseline). Round 0 is the study's own seeds for every row; round k adds the next seeds to the
    rows still open after look k − 1 and to their baselines. Only finished cells are read, and a
    look is taken only once all of its round is finished, so the result depends on stored results
    alone: any launcher, resumed at any time, continues the same schedule.
    """
    rows = list(baselines)
    compared = [row for row in rows if baselines[row] != row]
    decisions = {row: RowDecision(baselines[row], OPEN, -1, 0, math.nan, math.nan, math.nan) for row in compared}
    open_rows = list(compared)
    previous = 0
    for look, seeds in enumerate(plan.looks):
        active = rows if look == 0 else [*dict.fromkeys([*open_rows, *(baselines[row] for row in open_rows)])]
        round_cells = [(row, seed) for seed in plan.seeds[previous:seeds] for row in active]
        todo = [cell for cell in round_cells if value(*cell) is None]
        if todo:
            return Schedule(plan, decisions, todo, look)
        previous = seeds
        if not open_rows:
            break
        differences = np.array(
            [[_difference(value, row, baselines[row], seed) for seed in plan.seeds[:seeds]] for row in open_rows]
        )
        result = look_verdicts(differences, look, plan)
        decisions |= _look_decisions(result, look, [(row, baselines[row]) for row in open_rows])
        open_rows = [row for index, row in enumerate(open_rows) if result.verdict[index] == OPEN]
        if not open_rows:
            break
    return Schedule(plan, decisions, [], len(plan.looks))


def _look_decisions(result: LookResult, look: int, compared: Sequence[tuple[str, str]]) -> dict[str, RowDecision]:
    """The decision at ``look`` of each compared ``(key, baseline)``, in the order ``result`` holds them."""
    return {
        key: RowDecision(
            baseline,
            int(result.verdict[index]),
            look,
            int(result.pairs[index]),
            float(result.mean[index]),
            float(result.low[index]),
            float(result.high[index]),
        )
        for index, (key, baseline) in enumerate(compared)
    }


def replay_factorial(
    plan: SequentialPlan, design: TwoLevelDesign, run_rows: Sequence[str], value: CellValue
) -> Schedule:
    """The looks of a factorial study on stored results: one decision per estimable effect, keyed by its name.

    ``run_rows`` is the row of each run of ``design``, in its matrix order. Round 0 is the study's own seeds for
    every run; round k adds the next seeds to every run while an effect is still open after look k − 1. A seed
    with a run failed for good gives no contrast (NaN, as a missing pair). An effect decided at a look keeps that
    verdict: later seeds, taken for the effects still open, are not shown to it. ``decisions[name].baseline`` is
    the effect's design word (``a``, ``ab``).
    """
    words = estimable_words(design)
    names = {word: effect_name(design, word) for word in words}
    decisions = {names[word]: RowDecision(word, OPEN, -1, 0, math.nan, math.nan, math.nan) for word in words}
    open_words = list(words)
    previous = 0
    for look, seeds in enumerate(plan.looks):
        round_cells = [(row, seed) for seed in plan.seeds[previous:seeds] for row in run_rows]
        todo = [cell for cell in round_cells if value(*cell) is None]
        if todo:
            return Schedule(plan, decisions, todo, look)
        previous = seeds
        responses = np.array([[value(row, seed) for row in run_rows] for seed in plan.seeds[:seeds]], dtype=float)
        result = look_verdicts(effect_contrasts(design, open_words, responses).T, look, plan)
        decisions |= _look_decisions(result, look, [(names[word], word) for word in open_words])
        open_words = [word for index, word in enumerate(open_words) if result.verdict[index] == OPEN]
        if not open_words:
            break
    return Schedule(plan, decisions, [], len(plan.looks))


def decision_text(schedule: Schedule, row: str, lower_is_better: bool, *, signed: bool = True) -> str:
    """A row's sequential verdict in words, with the look that decided it (or why it is still open).

    ``signed=False`` (an interaction, which has no better side) says *beyond noise* instead of better or worse.
    """
    plan, decision = schedule.plan, schedule.decisions[row]
    looks = len(plan.looks)
    where = f"look {decision.look + 1}/{looks}, {plan.looks[decision.look]} seeds" if decision.look >= 0 else ""
    if decision.verdict == BETTER_OR_WORSE and not signed:
        return f"beyond noise (sequential, {where})"
    if decision.verdict == BETTER_OR_WORSE:
        better = (decision.mean < 0) == lower_is_better
        return f"{'better' if better else 'worse'} (sequential, {where})"
    if decision.verdict == EQUIVALENT:
        return f"equivalent within ±{plan.margin:g} (sequential, {where})"
    if schedule.finished:
        return f"within noise at the maximum {plan.max_seeds} seeds (sequential)"
    return f"open: look {schedule.round + 1}/{looks} running (sequential)"


def _difference(value: CellValue, row: str, baseline: str, seed: int) -> float:
    ours, theirs = value(row, seed), value(baseline, seed)
    if ours is None or theirs is None:  # a cell outside the rounds this row took part in: no pair
        return math.nan
    return ours - theirs
