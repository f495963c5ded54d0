"""A database study's trials read a page at a time, only the parts a reader needs, without ORM objects.

Optuna's own read (``RDBStorage._get_trials``) builds an ORM object for every row of every trial (a finished
cell has about 33: its record, curve, params and marks) and has no limit: 660,000 objects and about a minute
for a 20,000-trial study, all held at once. A page here is one transaction of plain SQLAlchemy Core
selects: the trials by id, then each part's rows for those ids; what it builds is the same
:class:`~optuna.trial.FrozenTrial` Optuna builds (a test compares them).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from optuna.distributions import BaseDistribution, json_to_distribution
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.trial import FrozenTrial
from sqlalchemy import ColumnElement, Connection, Row, select

from attnlab.sweeps.store.waiting_database import waited


@dataclass(frozen=True)
class TrialParts:
    """What of each trial a reader needs: a database reads only that (a journal holds every trial in memory)."""

    user_attrs: tuple[str, ...] | None = None  # these user attributes only; None: all
    params: bool = True
    intermediate_values: bool = True


WHOLE_TRIALS = TrialParts()
STATES_ONLY = TrialParts(user_attrs=(), params=False, intermediate_values=False)  # state, value, system attributes
_TRIALS = models.TrialModel.__table__
_TRIAL_COLUMNS = ("trial_id", "number", "state", "datetime_start", "datetime_complete")


def read_page(
    database: RDBStorage, study_id: int, parts: TrialParts, which: ColumnElement[bool], limit: int | None
) -> list[FrozenTrial]:
    """The study's trials whose id matches ``which`` (a condition on ``trials.trial_id``), at most ``limit``, in id
    order, with ``parts`` of each; one transaction, waited out through an outage."""

    def read() -> list[FrozenTrial]:
        with database.engine.connect() as connection:
            query = (
                select(*(_TRIALS.c[name] for name in _TRIAL_COLUMNS))
                .where(_TRIALS.c.study_id == study_id, which)
                .order_by(_TRIALS.c.trial_id)
            )
            trials = connection.execute(query.limit(limit)).all()
            return _build(connection, trials, parts)

    return waited(database, read)


def _build(connection: Connection, trials: Sequence[Row[Any]], parts: TrialParts) -> list[FrozenTrial]:
    ids = [trial.trial_id for trial in trials]
    if not ids:
        return []
    user_keys = models.TrialUserAttributeModel.__table__.c.key
    user_filter = None if parts.user_attrs is None else user_keys.in_(parts.user_attrs)
    values = _by_trial(connection, models.TrialValueModel, ids)
    system = _by_trial(connection, models.TrialSystemAttributeModel, ids)
    user = _by_trial(connection, models.TrialUserAttributeModel, ids, user_filter) if parts.user_attrs != () else {}
    params = _by_trial(connection, models.TrialParamModel, ids) if parts.params else {}
    steps = _by_trial(connection, models.TrialIntermediateValueModel, ids) if parts.intermediate_values else {}
    return [
        _frozen(
            trial,
            values.get(trial.trial_id, []),
            params.get(trial.trial_id, []),
            user.get(trial.trial_id, []),
            system.get(trial.trial_id, []),
            steps.get(trial.trial_id, []),
        )
        for trial in trials
    ]


def _frozen(
    trial: Row[Any],
    values: list[Row[Any]],
    params: list[Row[Any]],
    user: list[Row[Any]],
    system: list[Row[Any]],
    steps: list[Row[Any]],
) -> FrozenTrial:
    """The trial as Optuna's ``_build_frozen_trial_from_trial_model`` makes it, from its rows."""
    objectives = sorted(values, key=lambda value: value.objective)
    return FrozenTrial(
        number=trial.number,
        state=trial.state,
        value=None,
        values=[models.TrialValueModel.stored_repr_to_value(v.value, v.value_type) for v in objectives] or None,
        datetime_start=trial.datetime_start,
        datetime_complete=trial.datetime_complete,
        params={p.param_name: _distribution(p.distribution_json).to_external_repr(p.param_value) for p in params},
        distributions={p.param_name: _distribution(p.distribution_json) for p in params},
        user_attrs=_attrs(user),
        system_attrs=_attrs(system),
        intermediate_values={
            step.step: _INTERMEDIATE(step.intermediate_value, step.intermediate_value_type) for step in steps
        },
        trial_id=trial.trial_id,
    )


_INTERMEDIATE: Callable[[float | None, Any], float] = (
    models.TrialIntermediateValueModel.stored_repr_to_intermediate_value
)


def _by_trial(
    connection: Connection, model: type[Any], ids: list[int], where: ColumnElement[bool] | None = None
) -> dict[int, list[Row[Any]]]:
    """``model``'s rows of the trials ``ids``, grouped by trial, in the order they were written."""
    table = model.__table__
    query = select(table).where(table.c.trial_id.in_(ids))
    if where is not None:
        query = query.where(where)
    grouped: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in connection.execute(query.order_by(*table.primary_key.columns)):
        grouped[row.trial_id].append(row)
    return grouped


def _attrs(rows: Sequence[Row[Any]]) -> dict[str, Any]:
    return {row.key: json.loads(row.value_json) for row in rows}


@cache
def _distribution(text: str) -> BaseDistribution:
    """A param's distribution from its JSON (a study's params share a few distributions: parsed once each)."""
    return json_to_distribution(text)
