"""Where a study stands, cell by cell, from its storage alone: what ``attnlab status`` shows from a login node.

Each cell's state comes from its attempts as :func:`~attnlab.sweeps.store.attempts.standing` judges them
(the same rules the workers' :class:`~attnlab.sweeps.store.ledger.Ledger` follows): complete, failed
(with its reason), running (on which worker and SLURM job), lost (its worker died; it is retried),
interrupted (Ctrl-C, scancel, a time limit; still to do) or pending (never started).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from attnlab.ablations import StudyDefinition
from attnlab.errors import ConfigError
from attnlab.sweeps.cluster.slurm import SLURM_JOBS_ATTR
from attnlab.sweeps.store.attempts import (
    CELL_ATTR,
    END_ATTR,
    FAILURE_REASON_ATTR,
    SLURM_JOB_ATTR,
    WORKER_ATTR,
    Standing,
    standing,
)
from attnlab.sweeps.store.ledger import LEDGER_PARTS, Ledger
from attnlab.sweeps.store.settings import stored_settings
from attnlab.sweeps.store.storage import DEFAULT_STORAGE_TIMEOUT_S, is_database, open_storage
from attnlab.sweeps.store.trial_feed import TrialFeed

STATES = ("complete", "failed", "running", "lost", "interrupted", "pending")


@dataclass(frozen=True)
class CellStatus:
    """One cell (or search trial) as the storage says it stands."""

    cell: str
    state: str  # one of STATES
    attempts: int
    worker: str | None = None  # HOST:PID of the worker running it (or that ran it last)
    slurm_job: str | None = None  # the SLURM job of that worker, if SLURM started it
    detail: str = ""  # the metric when complete, the reason when failed or lost

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class StudyStatus:
    study: str
    kind: str  # "cells" or "search"
    cells: list[CellStatus]
    slurm_jobs: list[str]  # the array job ids ``--slurm`` submitted for it, oldest first

    def counts(self) -> dict[str, int]:
        found = Counter(cell.state for cell in self.cells)
        return {state: found[state] for state in STATES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "kind": self.kind,
            "counts": self.counts(),
            "cells": [cell.to_dict() for cell in self.cells],
            "slurm_jobs": self.slurm_jobs,
        }


def _who(trial: FrozenTrial | None) -> dict[str, str | None]:
    if trial is None:
        return {"worker": None, "slurm_job": None}
    return {"worker": trial.system_attrs.get(WORKER_ATTR), "slurm_job": trial.system_attrs.get(SLURM_JOB_ATTR)}


def _cell_status(name: str, attempts: Sequence[FrozenTrial], ledger: Ledger, metric: str | None) -> CellStatus:
    """One cell's state from its attempts (oldest first), superseded claims left out."""
    tried = [trial for trial in attempts if trial.system_attrs.get(END_ATTR) != "superseded"]
    last = tried[-1] if tried else None
    if ledger.is_complete(name):
        done = next(trial for trial in tried if trial.state == TrialState.COMPLETE)
        value = f"{metric} = {done.value:#.4g}" if metric and done.value is not None else ""
        return CellStatus(name, "complete", len(tried), detail=value, **_who(done))
    if ledger.is_failed(name):
        return CellStatus(name, "failed", len(tried), detail=ledger.failure(name) or "", **_who(last))
    if ledger.is_running(name):
        running = next(trial for trial in tried if standing(trial) is Standing.ACTIVE)
        return CellStatus(name, "running", len(tried), **_who(running))
    if last is None:
        return CellStatus(name, "pending", 0)
    state = "lost" if standing(last) is Standing.LOST else "interrupted"
    return CellStatus(name, state, len(tried), detail=last.user_attrs.get(FAILURE_REASON_ATTR, ""), **_who(last))


def _trial_status(trial: FrozenTrial) -> CellStatus:
    """A search trial's state (a search has no cells: each trial is one run)."""
    mark = standing(trial)
    if mark is Standing.ACTIVE:
        state = "running"
    elif trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        state = "complete"
    elif mark is Standing.FINAL:
        state = "failed"
    else:
        state = "lost" if mark is Standing.LOST else "interrupted"
    detail = trial.user_attrs.get(FAILURE_REASON_ATTR, "") if state != "complete" else trial.state.name.lower()
    return CellStatus(f"trial {trial.number}", state, 1, detail=detail, **_who(trial))


def study_status(
    url: str, name: str, max_retries: int, storage_timeout_s: int = DEFAULT_STORAGE_TIMEOUT_S
) -> StudyStatus:
    """The status of Optuna study ``name`` (``STUDY@PROFILE``) in the storage at ``url`` (a database outage waited
    out for up to ``storage_timeout_s``)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not is_database(url) and not Path(url).is_file():
        raise ConfigError(f"--storage {url}: no such journal file; give the --storage the study ran on")
    storage = open_storage(url, storage_timeout_s=storage_timeout_s)
    names = optuna.get_all_study_names(storage)
    if name not in names:
        shown = ", ".join(sorted(names)) or "none"
        raise ConfigError(f"study {name!r}: not in {url}; studies there: {shown}")
    study = optuna.load_study(study_name=name, storage=storage)
    settings = stored_settings(study)
    # The attempts' states and marks, not their records: a database reads no params, curves or results.
    trials = list(TrialFeed(storage, study._study_id, LEDGER_PARTS).changed())
    jobs = list(storage.get_study_system_attrs(study._study_id).get(SLURM_JOBS_ATTR, []))
    if settings["kind"] != "cells":
        return StudyStatus(name, settings["kind"], [_trial_status(trial) for trial in trials], jobs)
    definition = StudyDefinition.from_dict(settings["definition"])
    cells = [cell.name for cell in definition.cells(settings["overrides"])]
    ledger = Ledger(cells, trials, max_retries)
    attempts: dict[str, list[FrozenTrial]] = {cell: [] for cell in cells}
    for trial in trials:  # in trial-number order
        attempts.get(trial.system_attrs.get(CELL_ATTR), []).append(trial)
    metric = settings["definition"].get("metric")
    return StudyStatus(name, "cells", [_cell_status(cell, attempts[cell], ledger, metric) for cell in cells], jobs)
