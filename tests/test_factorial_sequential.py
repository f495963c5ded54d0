"""The sequential rule on a factorial study's effects: its schedule, and its familywise error over null effects.

The simulation runs the launcher's rule (each effect stops at the first look that decides it; every look adds
seeds to the whole design) on synthetic studies whose effects are all zero: the chance that any effect is called
a difference must stay ≤ α, with normal and with bimodal noise on each run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from attnlab.stats.designs import effect_contrasts, fractional_factorial, full_factorial
from attnlab.stats.effects import estimable_words
from attnlab.stats.sequential import BETTER_OR_WORSE, OPEN, SequentialPlan, replay_factorial, sequential_decisions

STUDIES = 4000
ALPHA = 0.05


def _noise(rng: np.random.Generator, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    if kind == "normal":
        return rng.standard_normal(shape)
    modes = rng.choice([-1.5, 1.5], size=shape)  # two modes, e.g. runs that converge to two different minima
    return modes + 0.5 * rng.standard_normal(shape)


@pytest.mark.parametrize("noise", ["normal", "bimodal"])
def test_familywise_false_positives_over_null_effects_stay_below_alpha(noise: str) -> None:
    design = fractional_factorial(["a1", "a2", "a3", "a4"], "IV")  # 8 runs: 4 main effects, 2fi aliased in pairs
    words = estimable_words(design)
    plan = SequentialPlan.for_study(range(3), 9, step=2, compared_rows=len(words), alpha=ALPHA)
    rng = np.random.default_rng(19)
    responses = 30.0 + 2.0 * _noise(rng, noise, (STUDIES, plan.max_seeds, design.runs))  # no effect at all
    contrasts = effect_contrasts(design, words, responses.reshape(-1, design.runs))
    per_effect = contrasts.reshape(STUDIES, plan.max_seeds, len(words)).transpose(0, 2, 1)
    verdict, _, _ = sequential_decisions(per_effect.reshape(-1, plan.max_seeds), plan)
    any_false = (verdict.reshape(STUDIES, len(words)) == BETTER_OR_WORSE).any(axis=1).mean()
    monte_carlo = 3 * math.sqrt(ALPHA * (1 - ALPHA) / STUDIES)
    assert any_false <= ALPHA + monte_carlo
    assert any_false > ALPHA / 10  # the rule does test: it is not silent


def test_the_schedule_trains_every_run_while_any_effect_is_open() -> None:
    """Channel adds 5 points on every seed (decided at the first look); spatial and the interaction are noise."""
    design = full_factorial(["channel", "spatial"])
    run_rows = ("none", "channel", "spatial", "both")  # the design's matrix order: channel varies fastest
    np.testing.assert_array_equal(design.matrix, [[-1, -1], [1, -1], [-1, 1], [1, 1]])
    noise = [0.04, -0.03, 0.09, -0.08, 0.02, -0.05, 0.07, -0.01]
    done: set[tuple[str, int]] = set()

    def value(row: str, seed: int) -> float | None:
        if (row, seed) not in done:
            return None
        return 30.0 + 5.0 * (row in ("channel", "both")) + noise[(seed + 3 * run_rows.index(row)) % len(noise)]

    plan = SequentialPlan.for_study([0, 1, 2], 5, step=1, compared_rows=3)
    rounds = []
    while not (schedule := replay_factorial(plan, design, run_rows, value)).finished:
        rounds.append(sorted(schedule.todo))
        done.update(schedule.todo)
    assert rounds[0] == sorted((row, seed) for row in run_rows for seed in (0, 1, 2))
    assert rounds[1:] == [sorted((row, seed) for row in run_rows) for seed in (3, 4)]  # the whole design each round
    channel = schedule.decisions["channel"]
    assert (channel.baseline, channel.verdict, channel.look) == ("a", BETTER_OR_WORSE, 0)
    by_hand = [
        ((value("channel", s) + value("both", s)) - (value("none", s) + value("spatial", s))) / 2 for s in (0, 1, 2)
    ]
    assert (channel.pairs, channel.mean) == (3, pytest.approx(np.mean(by_hand)))  # no seed after its look
    assert schedule.decisions["spatial"].verdict == OPEN and schedule.decisions["spatial"].pairs == 5
    assert set(schedule.decisions) == {"channel", "spatial", "channel × spatial"}
