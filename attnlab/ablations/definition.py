"""A study once its file is read: named rows (each a patch on the base), seeds, metric, baseline, paper numbers.

:class:`StudyDefinition` checks every invariant itself, so a definition rebuilt from Optuna's
study attributes (:meth:`StudyDefinition.from_dict`) is held to the same rules as one read from
YAML. Its :meth:`~StudyDefinition.cells` are what the sweeps run, one training each.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attnlab.ablations.overrides import SEED_KEY, flatten_overrides, layer_overrides
from attnlab.errors import ConfigError

DIRECTIONS: tuple[str, ...] = ("minimize", "maximize")
_EVALUATED = {"loss": "minimize", "top1_err": "minimize", "top5_err": "minimize"} | {
    "top1_acc": "maximize",
    "top5_acc": "maximize",
}
# Every metric a training run reports (docs/architecture.md), with the direction that means "better".
METRIC_DIRECTIONS: dict[str, str] = {
    "train/loss": "minimize",
    **{f"{stage}/{name}": way for stage in ("val", "test", "best/val") for name, way in _EVALUATED.items()},
    "cost/params": "minimize",
    "cost/gmacs": "minimize",
    "cost/train_images_per_s": "maximize",
    "cost/peak_memory_mb": "minimize",
}
# The paper's columns a row may carry, with the range a value must lie in.
PAPER_COLUMNS: dict[str, tuple[float, float]] = {
    "top1_err": (0.0, 100.0),
    "top5_err": (0.0, 100.0),
    "params_m": (0.0, math.inf),
    "gflops": (0.0, math.inf),
}
# How a study's rows are analysed: one by one against the baseline, or as the runs of a two-level design.
ONE_AT_A_TIME = "one-at-a-time"
FACTORIAL_DESIGNS: tuple[str, ...] = ("full", "fractional")
DESIGNS: tuple[str, ...] = (*FACTORIAL_DESIGNS, ONE_AT_A_TIME)
RESOLUTIONS: tuple[str, ...] = ("III", "IV", "V")
_STUDY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_MAX_SEED = 2**32 - 1  # what seed_everything accepts


def cell_name(row: str, seed: int) -> str:
    """How trials and runs name a cell: ``ROW/seedN``."""
    return f"{row}/seed{seed}"


@dataclass(frozen=True)
class Cell:
    """One training of a study: a row at a seed, with the exact overrides the run gets on top of the profile."""

    study: str
    row: str
    seed: int
    axes: dict[str, Any]  # axis (dotted config key or axis name) -> value: W&B tags, report columns
    overrides: dict[str, Any]  # study base | row patch | --set | {"seed_everything": seed}

    @property
    def name(self) -> str:
        """How trials and runs are named: ``ROW/seedN``."""
        return cell_name(self.row, self.seed)


@dataclass(frozen=True)
class RowSpec:
    """A row of the study's table: its patch on the base, and the axis values it stands for."""

    patch: dict[str, Any] = field(default_factory=dict)  # dotted key -> value
    axes: dict[str, Any] = field(default_factory=dict)


def _one_of(where: str, value: Any, valid: list[str] | tuple[str, ...]) -> None:
    if value not in valid:
        shown = ", ".join(repr(item) for item in valid[:12]) + (", ..." if len(valid) > 12 else "")
        raise ConfigError(f"{where}: {value!r} is not valid; use one of {shown}")


def _check_patch(patch: Mapping[str, Any], where: str) -> dict[str, Any]:
    flat = flatten_overrides(patch, where)
    if SEED_KEY in flat:
        raise ConfigError(f"{where}: {SEED_KEY} is set by the study's seeds; list it under seeds instead")
    return flat


def _check_row_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip() or name != name.strip() or "\n" in name:
        raise ConfigError(f"rows: {name!r} is not a row name; use a non-empty one-line text without outer spaces")
    if "/" in name:
        raise ConfigError(f"rows: {name!r}: a row name cannot contain '/' (cells are named ROW/seedN)")


def _checked_rows(rows: Any) -> dict[str, RowSpec]:
    if not isinstance(rows, Mapping) or not rows:
        raise ConfigError("rows: a study needs at least one row (named rows or axes)")
    for row in rows:
        _check_row_name(row)
    return {
        row: RowSpec(_check_patch(spec.patch, f"row {row!r}: patch"), dict(spec.axes)) for row, spec in rows.items()
    }


def _check_metric(metric: Any, direction: Any) -> None:
    _one_of("metric", metric, tuple(METRIC_DIRECTIONS))
    _one_of("direction", direction, DIRECTIONS)
    natural = METRIC_DIRECTIONS[metric]
    if direction != natural:
        better = "lower" if natural == "minimize" else "higher"
        raise ConfigError(f"direction: {metric} is better when {better}; use {natural}")


def _check_seeds(seeds: Any) -> tuple[int, ...]:
    if isinstance(seeds, str | bytes) or not isinstance(seeds, list | tuple) or not seeds:
        raise ConfigError(f"seeds: expected a non-empty list of integers such as [0, 1, 2], got {seeds!r}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
            raise ConfigError(f"seeds: {seed!r} is not a seed; use integers from 0 to {_MAX_SEED}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds: {list(seeds)} repeats a seed; list each once")
    return tuple(seeds)


def _check_paper(row: str, numbers: Any) -> dict[str, float]:
    where = f"row {row!r}: paper"
    if not isinstance(numbers, Mapping):
        raise ConfigError(f"{where}: expected a mapping such as {{top1_err: 22.66, top5_err: 6.31}}")
    checked: dict[str, float] = {}
    for column, value in numbers.items():
        _one_of(f"{where}: {column}", column, tuple(PAPER_COLUMNS))
        low, high = PAPER_COLUMNS[column]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ConfigError(f"{where}: {column}: must be a number in [{low:g}, {high:g}], got {value!r}")
        checked[column] = float(value)
    return checked


def _check_strings(where: str, values: Any) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise ConfigError(f"{where}: expected a list of strings, got {values!r}")
    for value in values:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: {value!r} is not a non-empty string")
    return tuple(values)


@dataclass(frozen=True)
class StudyDefinition:
    """A study whose every invariant holds: ``load_study`` builds one from YAML, ``from_dict`` from stored JSON."""

    name: str
    description: str
    base: dict[str, Any]
    rows: dict[str, RowSpec]
    seeds: tuple[int, ...]
    metric: str
    direction: str
    baseline: str
    paper: dict[str, dict[str, float]] = field(default_factory=dict)
    source: Path | None = None
    reference: str = ""  # where the paper numbers come from, e.g. "CBAM paper, Table 3 (ImageNet-1K, ResNet-50)"
    tags: tuple[str, ...] = ()
    # Axes within which rows are compared: each row's baseline keeps the row's values on these axes.
    compare_within: tuple[str, ...] = ()
    design: str = ONE_AT_A_TIME
    resolution: str | None = None  # fractional designs only: III, IV or V
    # Factorial designs: each axis's two levels (as in RowSpec.axes), low first; the low level is coded −1.
    levels: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _STUDY_NAME.fullmatch(self.name):
            raise ConfigError(f"name: {self.name!r} is not a study name; use lower-case letters, digits, '-', '_'")
        for where, text in (("description", self.description), ("reference", self.reference)):
            if not isinstance(text, str) or "\n" in text.strip():
                raise ConfigError(f"{where}: expected one line of text, got {text!r}")
        if not self.description.strip():
            raise ConfigError("description: must not be empty; say in one line what the study asks")
        object.__setattr__(self, "base", _check_patch(self.base, "base"))
        object.__setattr__(self, "rows", _checked_rows(self.rows))
        object.__setattr__(self, "seeds", _check_seeds(self.seeds))
        _check_metric(self.metric, self.direction)
        _one_of("baseline", self.baseline, list(self.rows))
        if not isinstance(self.paper, Mapping):
            raise ConfigError(f"paper: expected a mapping of row name -> numbers, got {self.paper!r}")
        for row in self.paper:
            _one_of("paper", row, list(self.rows))
        object.__setattr__(self, "paper", {row: _check_paper(row, numbers) for row, numbers in self.paper.items()})
        object.__setattr__(self, "tags", _check_strings("tags", self.tags))
        object.__setattr__(self, "compare_within", _check_strings("compare_within", self.compare_within))
        known_axes = sorted({axis for spec in self.rows.values() for axis in spec.axes})
        for axis in self.compare_within:
            _one_of("compare_within", axis, known_axes)
        for row in self.rows:
            self.baseline_for(row)  # every row must have one
        self._check_design()
        if self.source is not None:
            object.__setattr__(self, "source", Path(self.source))

    @property
    def factorial(self) -> bool:
        """Whether the rows are the runs of a two-level design (analysed as effects, not row by row)."""
        return self.design in FACTORIAL_DESIGNS

    def _check_design(self) -> None:
        _one_of("design", self.design, DESIGNS)
        if self.resolution is not None and self.design != "fractional":
            raise ConfigError(f"resolution: only applies to design: fractional (got design: {self.design})")
        if self.design == "fractional":
            _one_of("resolution", self.resolution, RESOLUTIONS)
        if not self.factorial:
            if self.levels:
                raise ConfigError(f"levels: only a factorial design has them (got design: {self.design})")
            return
        levels = {axis: tuple(values) for axis, values in self.levels.items()}
        if not levels or any(len(values) != 2 or values[0] == values[1] for values in levels.values()):
            raise ConfigError(f"levels: design {self.design} needs two distinct levels on each axis, got {levels}")
        for row, spec in self.rows.items():
            if set(spec.axes) != set(levels) or any(spec.axes[axis] not in levels[axis] for axis in levels):
                raise ConfigError(f"row {row!r}: is not a run of the design over {', '.join(levels)}; rows: axes only")
        object.__setattr__(self, "levels", levels)

    def baseline_for(self, row: str) -> str:
        """The row ``row`` is compared to: the baseline, moved to ``row``'s values on the ``compare_within`` axes."""
        if not self.compare_within:
            return self.baseline
        spec = self.rows[row]
        wanted = {
            axis: value for axis, value in self.rows[self.baseline].axes.items() if axis not in self.compare_within
        }
        wanted |= {axis: spec.axes[axis] for axis in self.compare_within if axis in spec.axes}
        for candidate, candidate_spec in self.rows.items():
            if candidate_spec.axes == wanted:
                return candidate
        raise ConfigError(
            f"compare_within: row {row!r} has no baseline; add a row with axes {wanted} "
            f"or drop {', '.join(self.compare_within)} from compare_within"
        )

    def cells(self, overrides: Mapping[str, Any] | None = None, seeds: tuple[int, ...] | None = None) -> list[Cell]:
        """Every row at every seed, seed by seed: a study stopped half-way still has each row at the first seeds.

        ``overrides`` (``--set``, parsed by ``parse_set_options``) win over the row patch, which
        wins over the base; the cell's seed comes last. ``seeds`` replaces the study's own (the
        extra seeds of ``--until-decided``).
        """
        extra = flatten_overrides(overrides, "--set")
        if SEED_KEY in extra:
            raise ConfigError(f"--set {SEED_KEY}: the study's seeds set it; choose seeds in the study file instead")
        return [
            Cell(
                study=self.name,
                row=row,
                seed=seed,
                axes=dict(spec.axes),
                overrides=layer_overrides([self.base, spec.patch, extra, {SEED_KEY: seed}]),
            )
            for seed in (self.seeds if seeds is None else seeds)
            for row, spec in self.rows.items()
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (stored in the Optuna study's user attributes); :meth:`from_dict` gives it back."""
        return {
            "name": self.name,
            "description": self.description,
            "reference": self.reference,
            "tags": list(self.tags),
            "base": dict(self.base),
            "rows": {row: {"patch": dict(spec.patch), "axes": dict(spec.axes)} for row, spec in self.rows.items()},
            "seeds": list(self.seeds),
            "metric": self.metric,
            "direction": self.direction,
            "baseline": self.baseline,
            "compare_within": list(self.compare_within),
            "paper": {row: dict(numbers) for row, numbers in self.paper.items()},
            "source": str(self.source) if self.source is not None else None,
            "design": self.design,
            "resolution": self.resolution,
            "levels": {axis: list(values) for axis, values in self.levels.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudyDefinition:
        """Rebuilds (and re-validates) a definition written by :meth:`to_dict`.

        Studies stored before designs existed have no design keys: they are one-at-a-time, as they ran.
        """
        expected = set(cls.__dataclass_fields__)
        missing, unknown = sorted(expected - set(data) - set(_ADDED_LATER)), sorted(set(data) - expected)
        if missing or unknown:
            raise ConfigError(f"study definition: missing keys {missing}, unknown keys {unknown}")
        rows = data["rows"]
        if not isinstance(rows, Mapping):
            raise ConfigError(f"study definition: rows must be a mapping, got {type(rows).__name__}")
        values = dict(data)
        values["rows"] = {row: RowSpec(spec.get("patch", {}), spec.get("axes", {})) for row, spec in rows.items()}
        values["source"] = Path(data["source"]) if data["source"] is not None else None
        values["levels"] = {axis: tuple(pair) for axis, pair in (data.get("levels") or {}).items()}
        return cls(**values)


# Keys to_dict gained after studies were first stored; a stored study without them takes these defaults.
_ADDED_LATER: tuple[str, ...] = ("design", "resolution", "levels")
