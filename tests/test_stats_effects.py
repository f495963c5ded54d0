"""Factorial effects: hand-computed contrasts and verdicts, the OLS cross-check, and a simulation of thousands of
synthetic studies (no training) with known main effects and an interaction: unbiased estimates, 95% intervals that
cover, and a family-wise false-positive rate over the null effects at most α with Holm."""

import numpy as np
import pytest

from attnlab.stats.comparisons import ALPHA, holm, paired_t_tests
from attnlab.stats.designs import effect_contrasts, fractional_factorial, full_factorial
from attnlab.stats.effects import estimable_words, factorial_effects, ols_cross_check

STUDIES = 20_000


def test_two_by_two_effects_by_hand() -> None:
    design = full_factorial(["channel", "spatial"])
    # seeds 0-2, runs: none, channel only, spatial only, both (top-1 error, lower is better)
    responses = np.array([[14.0, 12.0, 13.0, 11.0], [15.0, 12.5, 14.0, 11.5], [13.0, 11.5, 12.0, 10.0]])
    effects = {effect.word: effect for effect in factorial_effects(design, responses, lower_is_better=True)}
    # channel: seed contrasts (12+11)/2-(14+13)/2 = -2, (12.5+11.5)/2-(15+14)/2 = -2.5, (11.5+10)/2-(13+12)/2 = -1.75
    assert effects["a"].estimate == pytest.approx(np.mean([-2.0, -2.5, -1.75]))
    assert effects["a"].std == pytest.approx(np.std([-2.0, -2.5, -1.75], ddof=1))
    assert effects["a"].name == "channel" and effects["ab"].name == "channel × spatial"
    assert effects["a"].verdict == "better"
    # interaction: (14+11)/2-(12+13)/2 = 0, (15+11.5)/2-(12.5+14)/2 = 0, (13+10)/2-(11.5+12)/2 = -0.25
    assert effects["ab"].estimate == pytest.approx(-0.25 / 3)
    assert effects["ab"].verdict == "within noise"
    p_values = [effects[word].p_value for word in ("a", "b", "ab")]
    assert [effects[word].p_holm for word in ("a", "b", "ab")] == pytest.approx(holm(p_values))


def test_equivalence_and_no_noise_follow_the_row_rules() -> None:
    design = full_factorial(["x", "y"])
    tiny = np.array([[10.0, 10.1, 10.0, 10.1], [10.0, 9.9, 10.0, 9.9], [10.0, 10.05, 10.0, 10.05]])
    effects = {e.word: e for e in factorial_effects(design, tiny, lower_is_better=True, margin=0.5, effect=1.0)}
    assert effects["a"].verdict == "equivalent within ±0.5"
    assert effects["a"].seeds_for_effect >= 2 and effects["a"].mdd > 0
    constant = np.array([[10.0, 9.0, 10.0, 9.0]] * 3)  # the same contrast on every seed: no noise estimate
    assert factorial_effects(design, constant, lower_is_better=True)[0].verdict == "n/a: no noise estimate"


def test_ols_with_seed_blocks_gives_the_same_estimates() -> None:
    design = fractional_factorial(["p", "q", "r", "s", "t"], "V")
    responses = np.random.default_rng(0).normal(size=(4, design.runs))
    words = estimable_words(design)
    contrasts = effect_contrasts(design, words, responses).mean(axis=0)
    ols = ols_cross_check(design, responses)
    assert [ols[word][0] for word in words] == pytest.approx(list(contrasts))
    assert all(error > 0 for _, error in ols.values())


def _simulate(seeds: int, noise: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Contrasts of the 8-run resolution-IV fraction of 4 axes: main effects -1, 0, 0.5, 0 and an ab interaction."""
    design = fractional_factorial(["a1", "a2", "a3", "a4"], "IV")
    truth = np.array([-1.0, 0.0, 0.5, 0.0])
    mean = design.matrix @ truth / 2 + 0.8 / 2 * design.column("ab")  # ab is aliased with cd, never with a main
    if noise == "normal":
        errors = rng.normal(size=(STUDIES, seeds, design.runs))
    else:  # two modes at ±1, sd 0.5: a run either lands in the good basin or not
        errors = rng.choice([-1.0, 1.0], size=(STUDIES, seeds, design.runs)) + rng.normal(0, 0.5, (STUDIES, seeds, 8))
    blocks = rng.normal(0, 2, size=(STUDIES, seeds, 1))  # each seed shifts all its runs alike
    responses = 10 + blocks + mean + errors
    contrasts = responses @ np.stack([design.column(w) for w in "abcd"], axis=1) / 4  # studies x seeds x effects
    return np.swapaxes(contrasts, 1, 2), truth


@pytest.mark.parametrize("noise", ["normal", "bimodal"])
@pytest.mark.parametrize("seeds", [3, 5])
def test_simulated_studies_are_unbiased_cover_and_hold_the_familywise_rate(seeds: int, noise: str) -> None:
    contrasts, truth = _simulate(seeds, noise, np.random.default_rng(seeds * 7 + len(noise)))
    estimate, low, high, p_value = paired_t_tests(contrasts)
    per_study_std = contrasts.std(axis=2, ddof=1).mean(axis=0)
    standard_error = per_study_std / np.sqrt(seeds) / np.sqrt(STUDIES)
    assert np.all(np.abs(estimate.mean(axis=0) - truth) < 4 * standard_error)  # unbiased under the interaction
    coverage = ((low <= truth) & (truth <= high)).mean(axis=0)
    monte_carlo_error = np.sqrt(0.95 * 0.05 / STUDIES)  # 0.0015
    assert np.all(np.abs(coverage - 0.95) < 4 * monte_carlo_error), coverage
    null = truth == 0
    adjusted = np.array([holm(list(row)) for row in p_value])
    familywise = (adjusted[:, null] < ALPHA).any(axis=1).mean()
    assert familywise <= ALPHA + 4 * np.sqrt(ALPHA * (1 - ALPHA) / STUDIES), familywise
