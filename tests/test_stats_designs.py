"""Two-level designs: contrasts by hand, the alias structure of a small fraction, and the one-line refusals."""

import numpy as np
import pytest

from attnlab.errors import ConfigError
from attnlab.stats.designs import effect_contrasts, fractional_factorial, full_factorial


def test_two_by_two_contrasts_match_the_hand_computed_effects() -> None:
    design = full_factorial(["channel", "spatial"])
    assert design.matrix.tolist() == [[-1, -1], [1, -1], [-1, 1], [1, 1]]  # Yates order: the first axis fastest
    # none 10, channel only 8, spatial only 9, both 5 (two seeds: the second shifted by 1, same effects)
    responses = np.array([[10.0, 8.0, 9.0, 5.0], [11.0, 9.0, 10.0, 6.0]])
    contrasts = effect_contrasts(design, ["a", "b", "ab"], responses)
    # a: (8 + 5)/2 - (10 + 9)/2 = -3;  b: (9 + 5)/2 - (10 + 8)/2 = -2;  ab: (10 + 5)/2 - (8 + 9)/2 = -1
    assert contrasts.tolist() == [[-3.0, -2.0, -1.0], [-3.0, -2.0, -1.0]]
    assert design.clear_interactions() == ["ab"]


def test_half_fraction_of_four_axes_at_resolution_iv_has_the_textbook_aliases() -> None:
    design = fractional_factorial(["w", "x", "y", "z"], "IV")
    assert design.runs == 8
    assert design.resolution == 4
    assert len(design.generators) == 1 and design.generators[0].replace("-", "") == "d = abc"
    assert set(design.aliases_of("a")) == {"bcd"}
    assert set(design.aliases_of("ab")) == {"cd"}
    assert design.clear_interactions() == []  # every two-factor interaction shares its contrast with another
    for word in "abcd":  # main effects are balanced and orthogonal
        assert design.column(word).sum() == 0
    assert np.allclose(design.matrix.T @ design.matrix, 8 * np.eye(4))


def test_resolution_iii_aliases_main_effects_with_interactions_and_v_keeps_them_clear() -> None:
    three = fractional_factorial(list("pqrst"), "III")
    assert three.runs == 8 and any(len(word) == 2 for word in three.aliases_of("a"))
    five = fractional_factorial(list("pqrst"), 5)
    assert five.runs == 16 and len(five.clear_interactions()) == 10  # all 10 two-factor interactions


def test_a_fraction_as_large_as_the_full_design_is_the_full_design() -> None:
    design = fractional_factorial(["a1", "a2", "a3"], "V")
    assert design.kind == "full" and design.runs == 8


@pytest.mark.parametrize(
    ("factors", "resolution", "message"),
    [
        (["only"], "IV", "needs at least 2 two-level axes"),
        (["a", "a"], "IV", "named twice"),
        (["a", "b", "c"], "II", "use III, IV or V"),
        ([f"f{i}" for i in range(21)], "IV", "at most 20"),
    ],
)
def test_bad_designs_are_refused_in_one_line(factors: list[str], resolution: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        fractional_factorial(factors, resolution)
    assert "\n" not in str(refused.value)
