"""Which row of a factorial study is which run of its two-level design: what the report and ``--until-decided`` read.

A factorial study's rows are the runs of a design over its axes (``design: full`` or ``fractional``); the design is
rebuilt from the study (pyDOE is deterministic) and each run matched to the row with its levels, so a stored study
whose rows no longer match its design is refused instead of being analysed against the wrong runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from attnlab.ablations.definition import StudyDefinition
from attnlab.ablations.overrides import format_value
from attnlab.errors import ConfigError
from attnlab.stats.designs import RESOLUTIONS, TwoLevelDesign, fractional_factorial, full_factorial
from attnlab.stats.effects import effect_name


@dataclass(frozen=True)
class FactorialLayout:
    """Which row of a factorial study is which run of its two-level design."""

    design: TwoLevelDesign  # factor names = the study's axis names, in the file's order
    run_rows: tuple[str, ...]  # the row name of each run, in design.matrix order
    levels: dict[str, tuple[str, str]]  # axis -> (label at −1, label at +1)


def _label(value: object) -> str:
    return value if isinstance(value, str) else format_value(value)


def study_design(definition: StudyDefinition) -> TwoLevelDesign | None:
    """The two-level design over the study's axes; None for a one-at-a-time study."""
    if not definition.factorial:
        return None
    axes = list(definition.levels)
    if definition.design == "fractional":
        return fractional_factorial(axes, definition.resolution or "")
    return full_factorial(axes)


def factorial_layout(definition: StudyDefinition) -> FactorialLayout | None:
    """The design of a factorial study with the row of each run; None for a one-at-a-time study."""
    design = study_design(definition)
    if design is None:
        return None
    by_levels = {
        tuple(definition.levels[axis].index(spec.axes[axis]) for axis in design.factors): row
        for row, spec in definition.rows.items()
    }
    run_rows = []
    for run in design.matrix:
        wanted = tuple(int(code > 0) for code in run)
        if wanted not in by_levels:
            shown = ", ".join(
                f"{axis}={_label(definition.levels[axis][at])}" for axis, at in zip(design.factors, wanted, strict=True)
            )
            raise ConfigError(f"rows: study {definition.name!r} has no row for the design's run {shown}")
        run_rows.append(by_levels[wanted])
    if len(run_rows) != len(definition.rows):
        extra = sorted(set(definition.rows) - set(run_rows))
        raise ConfigError(f"rows: {', '.join(map(repr, extra))} of study {definition.name!r} are no run of its design")
    levels = {axis: (_label(low), _label(high)) for axis, (low, high) in definition.levels.items()}
    return FactorialLayout(design, tuple(run_rows), levels)


def design_responses(
    layout: FactorialLayout, value: Callable[[str, int], float | None], seeds: Sequence[int]
) -> tuple[np.ndarray, tuple[int, ...]]:
    """``responses[seed_index, run]`` over the seeds where every run has a value, and those seeds.

    A seed is one replicate of the design (the seed a block): one with any run missing gives no contrast, so it
    is left out whole. ``value(row, seed)`` is the run's metric, None where it has none.
    """
    kept: list[int] = []
    responses: list[list[float]] = []
    for seed in seeds:
        values = [value(row, seed) for row in layout.run_rows]
        if all(found is not None and np.isfinite(found) for found in values):
            kept.append(int(seed))
            responses.append([float(found) for found in values])  # type: ignore[arg-type]
    return np.array(responses, dtype=float).reshape(len(kept), layout.design.runs), tuple(kept)


def named_generators(design: TwoLevelDesign) -> list[str]:
    """Each generator in the study's axis names: ``c = -ab`` as ``z = −x × y``."""
    texts = []
    for generator in design.generators:
        letter, word = (part.strip() for part in generator.split("="))
        sign = "−" if word.startswith("-") else ""
        texts.append(f"{design.factor_of(letter)} = {sign}{effect_name(design, word.lstrip('-'))}")
    return texts


def design_summary(definition: StudyDefinition) -> dict[str, Any]:
    """What ``attnlab studies STUDY --check`` shows of the design: kind, runs, generators, aliases, cells per seed.

    ``aliases`` lists, for each main effect and two-factor interaction, the other effects its contrast also
    estimates (all of them: a full factorial has none); ``clear_interactions`` are the two-factor interactions
    aliased with no main effect and no other two-factor interaction.
    """
    layout = factorial_layout(definition)
    summary: dict[str, Any] = {"design": definition.design, "resolution": definition.resolution}
    if layout is None:
        summary |= {
            "kind": f"one-at-a-time: each row compared with {definition.baseline!r}",
            "runs": [{"row": row, "compared_to": definition.baseline_for(row)} for row in definition.rows],
        }
    else:
        design = layout.design
        words = [word for group in design.alias_groups for word in group if len(word) <= 2]
        summary |= {
            "kind": _kind(design),
            "runs": [
                {
                    "row": row,
                    "levels": {
                        axis: layout.levels[axis][int(code > 0)] for axis, code in zip(design.factors, run, strict=True)
                    },
                }
                for row, run in zip(layout.run_rows, design.matrix, strict=True)
            ],
            "generators": named_generators(design),
            "aliases": {
                effect_name(design, word): [effect_name(design, other) for other in design.aliases_of(word)]
                for word in sorted(words, key=lambda word: (len(word), word))
            },
            "clear_interactions": [effect_name(design, word) for word in design.clear_interactions()],
        }
    cells = len(summary["runs"])
    return summary | {"cells_per_seed": cells, "seeds": len(definition.seeds), "cells": cells * len(definition.seeds)}


def _kind(design: TwoLevelDesign) -> str:
    factors = len(design.factors)
    if design.kind == "full":
        return f"full factorial 2^{factors}: {design.runs} runs, nothing aliased"
    fraction = factors - (design.runs.bit_length() - 1)
    roman = next(name for name, level in RESOLUTIONS.items() if level == design.resolution)
    return f"2^({factors}−{fraction}) fractional factorial of resolution {roman}: {design.runs} runs"
