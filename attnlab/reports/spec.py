"""What a report needs to know about a study, whichever source its cells come from.

The Optuna storage carries the full study definition; W&B projects and CSV logs carry only the
cells, so there the rows, seeds and baseline are inferred from what was found. Either way the
expected grid (rows x seeds) is what lets a report show missing cells instead of dropping them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from attnlab.errors import ConfigError
from attnlab.stats.sequential import SequentialPlan
from attnlab.sweeps.store.records import CellRecord

if TYPE_CHECKING:
    from attnlab.ablations.factorial import FactorialLayout

DEFAULT_METRIC = "test/top1_err"
# Scores a cell logs; cost/* is logged too but reported through the cost columns, and loggers'
# own keys (trainer/global_step, epoch, _runtime) are not results.
METRIC_PREFIXES = ("train/", "val/", "test/", "best/")
_NO_ATTENTION_KEY = "model.attention.type"


@dataclass(frozen=True)
class StudySpec:
    """The table's rows in order, the seeds each row should have, and how rows are compared."""

    name: str
    profile: str | None
    rows: tuple[str, ...]
    seeds: tuple[int, ...]
    metric: str = DEFAULT_METRIC
    direction: str = "minimize"
    baseline: str | None = None
    # Rows compared with another row than ``baseline`` (a study's ``compare_within``: same backbone).
    row_baselines: Mapping[str, str] = field(default_factory=dict)
    paper: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # The seeds-until-decided plan the study ran under (``attnlab ablate --until-decided``), if any.
    sequential: SequentialPlan | None = None
    # A factorial study's design over its rows (the Effects table); None for a one-at-a-time study.
    factorial: FactorialLayout | None = None

    @classmethod
    def from_definition(
        cls, definition: Any, profile: str | None, sequential: SequentialPlan | None = None
    ) -> StudySpec:
        """From an ``attnlab.ablations.StudyDefinition`` (rows keyed by name, in table order)."""
        from attnlab.ablations.factorial import factorial_layout

        rows = tuple(definition.rows)
        baselines = {row: definition.baseline_for(row) for row in rows}
        return cls(
            name=definition.name,
            profile=profile,
            rows=rows,
            seeds=tuple(int(seed) for seed in definition.seeds),
            metric=definition.metric,
            direction=definition.direction,
            baseline=definition.baseline,
            row_baselines={row: of for row, of in baselines.items() if of != definition.baseline},
            paper={row: dict(numbers) for row, numbers in (definition.paper or {}).items()},
            sequential=sequential,
            factorial=factorial_layout(definition),
        )

    @classmethod
    def from_records(cls, name: str, profile: str | None, records: Iterable[CellRecord]) -> StudySpec:
        """Inferred from the cells alone: the baseline row first, then the others as first seen; all seeds found.

        The baseline is the one row trained without attention (``model.attention.type: none``),
        else the first row; ``--baseline`` overrides it.
        """
        records = list(records)
        rows = tuple(dict.fromkeys(record.row for record in records))
        seeds = tuple(sorted({record.seed for record in records}))
        plain_rows = {record.row for record in records if _flat_get(record.config, _NO_ATTENTION_KEY) == "none"}
        baseline = next(iter(plain_rows)) if len(plain_rows) == 1 else (rows[0] if rows else None)
        ordered = tuple(dict.fromkeys([baseline, *rows])) if baseline is not None else rows
        return cls(name=name, profile=profile, rows=ordered, seeds=seeds, baseline=baseline)

    def including(self, records: Iterable[CellRecord]) -> StudySpec:
        """This spec with rows and seeds that cells have but the definition lacks, so none is dropped."""
        records = list(records)
        rows = tuple(dict.fromkeys([*self.rows, *(record.row for record in records)]))
        seeds = tuple(sorted({*self.seeds, *(record.seed for record in records)}))
        return dataclasses.replace(self, rows=rows, seeds=seeds)

    def with_choices(self, *, baseline: str | None = None, metric: str | None = None) -> StudySpec:
        """This spec with the user's ``--metric`` (its direction follows) and ``--baseline`` (every row's)."""
        from attnlab.ablations import METRIC_DIRECTIONS

        spec = self
        if metric is not None and metric != self.metric:
            scores = [name for name in METRIC_DIRECTIONS if name.startswith(METRIC_PREFIXES)]
            if metric not in scores:
                raise ConfigError(f"--metric: {metric!r} is not a metric attnlab logs; use one of {', '.join(scores)}")
            spec = dataclasses.replace(spec, metric=metric, direction=METRIC_DIRECTIONS[metric])
        if baseline is not None:
            if baseline not in spec.rows:
                raise ConfigError(f"--baseline: {baseline!r} is not a row of {spec.name}; rows: {', '.join(spec.rows)}")
            spec = dataclasses.replace(spec, baseline=baseline, row_baselines={})
        if spec.sequential is not None and (spec.metric, spec.baseline_map()) != (self.metric, self.baseline_map()):
            spec = dataclasses.replace(spec, sequential=None)  # the plan's looks were taken on other comparisons
        return spec

    def baseline_map(self) -> dict[str, str]:
        """Every row with the row it is compared with (a baseline with itself)."""
        return {row: self.baseline_of(row) or row for row in self.rows}

    def baseline_of(self, row: str) -> str | None:
        """The row that ``row`` is compared with."""
        return self.row_baselines.get(row, self.baseline)


def _flat_get(config: Mapping[str, Any], dotted_key: str) -> Any:
    """``config["model"]["attention"]["type"]`` for ``"model.attention.type"``; None where absent."""
    value: Any = config
    for part in dotted_key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


@dataclass(frozen=True)
class LoadedStudy:
    """What a source yields: the study's spec, every cell record found, and where they came from."""

    spec: StudySpec
    records: list[CellRecord]
    source: str  # for the report header, e.g. "Optuna storage runs/attnlab.journal"
    step_timings: Mapping[str, Any] = field(default_factory=dict)  # device label -> StepTiming.to_dict()
