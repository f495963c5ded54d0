"""A database storage whose every operation waits out a lost connection, and a way to run our own queries so.

:class:`WaitingRDBStorage` is what ``open_storage`` returns for a database URL; :func:`waited` runs one of
attnlab's own database operations (records, params, pages of trials) under the same wait, on any ``RDBStorage``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from optuna.storages import RDBStorage

from attnlab.sweeps.store.storage_outages import Outages

Result = TypeVar("Result")


class WaitingRDBStorage(RDBStorage):
    """Optuna's ``RDBStorage`` whose every database operation waits out a lost connection (up to a bound).

    Still an ``RDBStorage``, so Optuna wraps it in its ``_CachedStorage`` as before. The pool pings a
    connection before lending it, so after a server restart a stale pooled connection is replaced
    instead of failing the first call.

    A retried write may already have committed when the connection dropped. A retried state change then
    finds the trial finished (UpdateFinishedTrialError, as if it had been declared lost): the first one
    stands. A retried ``create_new_trial`` may leave an orphan: a RUNNING claim of the cell that nobody
    holds. Exactly-once survives it. A cell belongs to its lowest-numbered live attempt
    (:mod:`attnlab.sweeps.store.ledger`), and the orphan, committed first, is numbered below the retried
    claim, so the retried claim loses and is marked superseded: nobody trains the cell while the
    orphan holds it, and the orphan is never beaten. It never beats either, so it is declared lost
    after the grace period; nobody saw a worker die, so that loss is a machine's, not charged to the
    cell's retries (:func:`attnlab.sweeps.store.attempts.exhausts_retries`), and the cell is claimed again.
    """

    def __init__(self, url: str, *, outages: Outages, **kwargs: Any) -> None:
        self._outages = outages
        super().__init__(url, **kwargs)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """None right after an outage: the beats that could not land meanwhile get one grace period to arrive."""
        if self._outages.ended_within(self.grace_period or 0):
            return []
        return self._outages.call(super()._get_stale_trial_ids, study_id)


def _waiting(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def waited(self: WaitingRDBStorage, *args: Any, **kwargs: Any) -> Any:
        return self._outages.call(operation, self, *args, **kwargs)

    return waited


# Every RDBStorage method that talks to the database, public or called by Optuna's _CachedStorage.
_DATABASE_OPERATIONS = (
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "get_all_studies",
    "create_new_trial",
    "_create_new_trial",
    "set_trial_param",
    "_set_trial_param",
    "get_trial_param",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
    "get_all_trials",
    "_get_trials",
    "get_best_trial",
    "_get_best_trial_id",
    "record_heartbeat",
)
for _name in _DATABASE_OPERATIONS:
    setattr(WaitingRDBStorage, _name, _waiting(getattr(RDBStorage, _name)))


def waited(database: RDBStorage, operation: Callable[[], Result]) -> Result:
    """``operation()``, waiting out an outage when ``database`` is a :class:`WaitingRDBStorage`."""
    return database._outages.call(operation) if isinstance(database, WaitingRDBStorage) else operation()
