"""What a finished cell adds to its trial so optuna-dashboard can compare designs.

The report never reads any of it (it reads the :class:`~attnlab.sweeps.store.records.CellRecord` user
attributes); it is for optuna-dashboard's own panels: the design axes, row and seed as trial
parameters (parallel coordinates, slices, importance), validation error per epoch as intermediate
values (learning curves), the metric's name on the study, and a trial note naming the cell.
Nothing here may fail a cell: a dashboard is worth less than a result.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalChoiceType, CategoricalDistribution, IntDistribution

from attnlab.ablations import Cell
from attnlab.sweeps.store.experimental import experimental_allowed
from attnlab.sweeps.store.storage import set_trial_params
from attnlab.sweeps.store.trial_feed import uncached

_logger = logging.getLogger(__name__)
CURVE_METRIC = "val/top1_err"  # what the learning curves plot (the training's default monitor)
ROW_PARAM, SEED_PARAM = "row", "seed"


def param_value(value: Any) -> CategoricalChoiceType:
    """An axis value as an Optuna categorical choice (lists and mappings as their JSON text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def design_distributions(cells: Iterable[Cell]) -> dict[str, BaseDistribution]:
    """Row and every design axis over the study's levels (categorical, first-seen order); the seed as an
    integer over the study's range, since every trial stores its parameters' distributions and a
    categorical over 5,000 seeds would be 5,000 choices stored 15,000 times. Linear in the cells."""
    levels: dict[str, dict[CategoricalChoiceType, None]] = {ROW_PARAM: {}}  # ordered sets of choices
    seeds = set()
    for cell in cells:
        seeds.add(cell.seed)
        named = {ROW_PARAM: cell.row} | {key: param_value(v) for key, v in cell.axes.items()}
        for key, value in named.items():
            levels.setdefault(key, {})[value] = None
    if not seeds:
        return {}
    rows = CategoricalDistribution(list(levels.pop(ROW_PARAM)))
    axes = {key: CategoricalDistribution(list(choices)) for key, choices in levels.items()}
    return {ROW_PARAM: rows, SEED_PARAM: IntDistribution(min(seeds), max(seeds))} | axes


@dataclass
class DesignParams:
    """The study's dashboard parameters, computed once per worker, and those already checked against the
    distributions the study stores (looked up once per worker, not once per cell)."""

    distributions: dict[str, BaseDistribution]
    checked: dict[str, BaseDistribution] = field(default_factory=dict)

    @classmethod
    def of(cls, cells: Iterable[Cell]) -> DesignParams:
        return cls(design_distributions(cells))


def cell_params(cell: Cell, distributions: Mapping[str, BaseDistribution]) -> dict[str, CategoricalChoiceType]:
    named = {ROW_PARAM: cell.row, SEED_PARAM: cell.seed} | {key: param_value(v) for key, v in cell.axes.items()}
    return {key: value for key, value in named.items() if key in distributions}


def read_curve(log_dir: str | None, metric: str = CURVE_METRIC) -> dict[int, float]:
    """``metric`` per epoch from a Lightning CSV log's ``metrics.csv`` (empty without one)."""
    path = Path(log_dir or "", "metrics.csv")
    if not log_dir or not path.is_file():
        return {}
    curve: dict[int, float] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for line in csv.DictReader(handle):
            value, epoch = line.get(metric) or "", line.get("epoch") or ""
            if value and epoch and math.isfinite(float(value)):
                curve[int(float(epoch))] = float(value)
    return curve


def cell_note(cell: Cell, trial_number: int) -> str:
    axes = "\n".join(f"- `{key}` = `{value}`" for key, value in cell.axes.items()) or "- (the study's baseline design)"
    where = f"Study `{cell.study}`, row **{cell.row}**, seed {cell.seed}, trial {trial_number}."
    return f"## Cell {cell.name}\n\n{where}\n\n{axes}\n"


def annotate_trial(
    study: optuna.Study, trial_id: int, cell: Cell, design: DesignParams, curve: Mapping[int, float]
) -> None:
    """Writes params, intermediate values and the trial note while the trial still runs (then they can't be).

    They go through the raw storage: a database study's trial cache would have to read the whole study
    first to learn of a trial the worker created behind it, and then hold every trial in the worker.
    """
    import optuna_dashboard

    storage = uncached(study._storage)
    distributions = design.distributions
    params = {
        key: (distributions[key].to_internal_repr(value), distributions[key])
        for key, value in cell_params(cell, distributions).items()
    }
    set_trial_params(storage, trial_id, params, design.checked)
    for epoch, value in sorted(curve.items()):
        storage.set_trial_intermediate_value(trial_id, epoch, value)
    trial = optuna.Trial(study, trial_id)
    optuna_dashboard.save_note(trial, cell_note(cell, trial.number))


def name_metric(study: optuna.Study, metric: str) -> None:
    """The study's objective named ``metric``, so every dashboard plot says e.g. test/top1_err."""
    if study.metric_names != [metric]:
        with experimental_allowed():
            study.set_metric_names([metric])


def annotate_cell(
    study: optuna.Study,
    trial_id: int,
    cell: Cell,
    design: DesignParams,
    metric: str,
    log_dir: str | None,
) -> None:
    """The dashboard's view of a cell that just trained; logs and goes on when the storage refuses."""
    try:
        name_metric(study, metric)
        annotate_trial(study, trial_id, cell, design, read_curve(log_dir))
    except Exception:  # never a cell's failure: the record and the report do not depend on it
        _logger.warning("cell %s: dashboard parameters and notes not written", cell.name, exc_info=True)
