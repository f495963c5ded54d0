"""Two-level factorial designs over a study's axes: the runs, their generators and what is aliased with what.

A one-factor-at-a-time study spends each cell on one comparison; in a two-level factorial every run sits on one
side of every contrast, so one replicate estimates each main effect from all its runs. Fractional designs come
from pyDOE's ``fracfact_by_res`` (the smallest 2^(k-p) fraction of the asked resolution) and their alias structure
from ``fracfact_aliasing``; nothing here is built by hand except reading the generators back off the matrix.
"""

from __future__ import annotations

import itertools
import string
from dataclasses import dataclass
from typing import Literal

import numpy as np

from attnlab.errors import ConfigError

DesignKind = Literal["full", "fractional"]
MAX_FACTORS = 20  # pyDOE's aliasing works up to 20 factors; the letters a-t name them
RESOLUTIONS = {"III": 3, "IV": 4, "V": 5}


@dataclass(frozen=True)
class TwoLevelDesign:
    """Runs (rows of ±1, one column per factor), how the fraction was generated and its alias groups."""

    factors: tuple[str, ...]
    matrix: np.ndarray
    kind: DesignKind
    resolution: int | None  # None for a full factorial (nothing aliased)
    generators: tuple[str, ...]  # "d = abc": each generated factor as a word of the base factors
    alias_groups: tuple[tuple[str, ...], ...]  # each group's words are one and the same contrast

    @property
    def runs(self) -> int:
        return int(self.matrix.shape[0])

    def letter(self, factor: str) -> str:
        return string.ascii_lowercase[self.factors.index(factor)]

    def factor_of(self, letter: str) -> str:
        return self.factors[string.ascii_lowercase.index(letter)]

    def aliases_of(self, word: str) -> tuple[str, ...]:
        """The other words estimated by the same contrast as ``word`` (letters in alphabetical order)."""
        for group in self.alias_groups:
            if word in group:
                return tuple(other for other in group if other != word)
        return ()

    def clear_interactions(self) -> list[str]:
        """Two-factor interactions aliased with no main effect and no other two-factor interaction."""
        clear = []
        for first, second in itertools.combinations(string.ascii_lowercase[: len(self.factors)], 2):
            word = first + second
            if all(len(other) > 2 for other in self.aliases_of(word)):
                clear.append(word)
        return clear

    def column(self, word: str) -> np.ndarray:
        """The ±1 contrast column of a main effect or an interaction word."""
        indices = [string.ascii_lowercase.index(letter) for letter in word]
        return np.prod(self.matrix[:, indices], axis=1)

    def columns(self, words: list[str]) -> np.ndarray:
        """Runs x words: the contrast columns side by side (the regressors of a linear model, too)."""
        return np.stack([self.column(word) for word in words], axis=1)


def full_factorial(factors: list[str]) -> TwoLevelDesign:
    """Every combination of two levels: 2^k runs, nothing aliased."""
    _check_factors(factors)
    matrix = np.array(list(itertools.product((-1.0, 1.0), repeat=len(factors))))[:, ::-1]
    words = [
        "".join(combo)
        for order in range(1, len(factors) + 1)
        for combo in itertools.combinations(string.ascii_lowercase[: len(factors)], order)
    ]
    return TwoLevelDesign(tuple(factors), matrix, "full", None, (), tuple((word,) for word in words))


def fractional_factorial(factors: list[str], resolution: str | int) -> TwoLevelDesign:
    """The smallest fraction of ``resolution`` (III, IV, V or 3-5) over two-level ``factors``."""
    from pydoe import fracfact_aliasing, fracfact_by_res

    _check_factors(factors)
    level = RESOLUTIONS.get(str(resolution).upper(), resolution)
    if str(resolution).upper() in ("II", "2"):
        raise ConfigError(f"resolution: {resolution} would alias main effects with each other; use III, IV or V")
    if level not in RESOLUTIONS.values():
        raise ConfigError(f"resolution: {resolution!r}; use III, IV or V")
    try:
        matrix = np.asarray(fracfact_by_res(len(factors), level), dtype=float)
    except ValueError as error:
        raise ConfigError(f"resolution: {resolution} is not possible for {len(factors)} axes ({error})") from None
    if matrix.shape[0] >= 2 ** len(factors):
        return full_factorial(factors)
    alias_map, _ = fracfact_aliasing(matrix)
    groups = tuple(tuple(word.strip() for word in line.split("=")) for line in alias_map)
    design = TwoLevelDesign(tuple(factors), matrix, "fractional", level, _generators(matrix), groups)
    mains = set(string.ascii_lowercase[: len(factors)])
    for group in groups:
        aliased = [word for word in group if word in mains]
        if len(aliased) > 1:  # resolution II: never produced by fracfact_by_res at 3+, checked all the same
            names = " and ".join(design.factor_of(word) for word in aliased)
            raise ConfigError(f"design: main effects of {names} would be aliased with each other; use more runs")
    return design


def _check_factors(factors: list[str]) -> None:
    if len(factors) < 2:
        raise ConfigError(f"design: needs at least 2 two-level axes, got {len(factors)}")
    if len(factors) > MAX_FACTORS:
        raise ConfigError(f"design: {len(factors)} axes; at most {MAX_FACTORS} two-level axes in one design")
    if len(set(factors)) != len(factors):
        raise ConfigError("design: an axis is named twice")


def _generators(matrix: np.ndarray) -> tuple[str, ...]:
    """Each column that is a product of earlier independent columns, as "d = abc" (sign shown as "-abc")."""
    letters = string.ascii_lowercase
    base: list[int] = []
    generators = []
    for column in range(matrix.shape[1]):
        found = None
        for order in range(2, len(base) + 1):
            for combo in itertools.combinations(base, order):
                product = np.prod(matrix[:, list(combo)], axis=1)
                if np.array_equal(product, matrix[:, column]) or np.array_equal(product, -matrix[:, column]):
                    sign = "" if np.array_equal(product, matrix[:, column]) else "-"
                    found = f"{letters[column]} = {sign}{''.join(letters[i] for i in combo)}"
                    break
            if found:
                break
        if found:
            generators.append(found)
        else:
            base.append(column)
    return tuple(generators)


def effect_contrasts(design: TwoLevelDesign, words: list[str], responses: np.ndarray) -> np.ndarray:
    """Per replicate (row of ``responses``, one column per run), each word's mean at + minus mean at −.

    With one replicate per seed (the seed a block), each seed's contrast is an independent estimate of the
    effect, so a one-sample t over the seeds' contrasts is the paired machinery applied to it.
    """
    responses = np.atleast_2d(np.asarray(responses, dtype=float))
    if responses.shape[1] != design.runs:
        raise ValueError(f"responses have {responses.shape[1]} runs per replicate; the design has {design.runs}")
    return responses @ design.columns(words) / (design.runs / 2)  # ±1 columns, balanced: half the runs each side
