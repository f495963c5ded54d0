"""Cells from the Optuna storage the sweeps write: one trial per attempt, its CellRecord in the user attributes.

The study's own user attributes carry the study definition, so rows, seeds, baseline and the
paper's numbers come from exactly what was run, not from today's version of the study file.
Attempts the sweeps voided (interrupted by Ctrl-C, superseded) count as never made, as they do
for the sweeps; an attempt just claimed, before its record is written, counts as running.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from attnlab.errors import ConfigError
from attnlab.reports.spec import LoadedStudy, StudySpec
from attnlab.stats.sequential import PLAN_ATTR, SequentialPlan
from attnlab.sweeps.store.attempts import CELL_ATTR, Standing, standing
from attnlab.sweeps.store.records import ATTR_PREFIX, STEP_TIMING_ATTR, STUDY_DEFINITION_ATTR, CellRecord
from attnlab.sweeps.store.trial_feed import TrialFeed
from attnlab.sweeps.store.trial_pages import TrialParts

TRIAL_STATES: dict[TrialState, str] = {
    TrialState.COMPLETE: "complete",
    TrialState.FAIL: "failed",
    TrialState.PRUNED: "pruned",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
}
_FILE_SCHEMES = ("sqlite:///",)


def _local_file(url: str) -> Path | None:
    """The file behind a journal path or a SQLite URL; None for a database server."""
    if "://" not in url:
        return Path(url)
    for scheme in _FILE_SCHEMES:
        if url.startswith(scheme):
            return Path(url[len(scheme) :])
    return None


def existing_storage(url: str) -> BaseStorage:
    """Opens a storage that must already exist: reading must never create an empty journal or database."""
    from attnlab.sweeps.store.storage import open_storage

    path = _local_file(url)
    if path is not None and not path.is_file():
        raise ConfigError(
            f"--storage {url}: no such file; run 'attnlab ablate STUDY' first, "
            "or pass the storage it used (a .journal path, sqlite:///FILE, postgresql://...)"
        )
    return open_storage(url)


def trial_record(trial: FrozenTrial) -> CellRecord | None:
    """The cell attempt a trial stands for; None for a voided attempt or a trial that is no cell."""
    state = TRIAL_STATES[trial.state]
    if f"{ATTR_PREFIX}row" in trial.user_attrs:
        record = CellRecord.from_user_attrs(trial.user_attrs, state)
    elif CELL_ATTR in trial.system_attrs:  # claimed, record not written yet
        row, seed = trial.system_attrs[CELL_ATTR].rsplit("/seed", 1)
        record = CellRecord(study="", row=row, seed=int(seed), state=state)
    else:
        return None
    if standing(trial) is Standing.VOID:
        return None
    if standing(trial) is Standing.LOST and record.failure_reason is None:
        record.failure_reason = "worker lost: it stopped without recording an end"
    record.curve = dict(trial.intermediate_values)  # validation error per epoch, where the cell reported it
    return record


def load_from_optuna(study: str, profile: str, url: str | None = None, configs: bool = True) -> LoadedStudy:
    """Every attnlab trial of ``study`` run under ``profile`` in the storage at ``url`` (default: the sweeps').

    Read page by page, with no params; ``configs=False`` leaves out each cell's resolved config (the bulk of a
    record, which tables and tests never read) wherever the study stores its definition.
    """
    from attnlab.ablations import StudyDefinition
    from attnlab.sweeps.store.storage import DEFAULT_STORAGE, optuna_study_name

    url = url or DEFAULT_STORAGE
    storage = existing_storage(url)
    name = optuna_study_name(study, profile)
    names = optuna.get_all_study_names(storage)
    if name not in names:
        raise ConfigError(
            f"--storage {url}: no study {name!r} (STUDY@PROFILE); studies there: {', '.join(names) or 'none'}"
        )
    optuna_study = optuna.load_study(study_name=name, storage=storage)
    definition = optuna_study.user_attrs.get(STUDY_DEFINITION_ATTR)
    skipped = ("config",) if not configs and definition is not None else ()
    feed = TrialFeed(storage, optuna_study._study_id, TrialParts(CellRecord.attr_keys(without=skipped), params=False))
    records = [record for trial in feed.changed() if (record := trial_record(trial))]
    plan = optuna_study.user_attrs.get(PLAN_ATTR)
    spec = (
        StudySpec.from_definition(
            StudyDefinition.from_dict(definition), profile, SequentialPlan.from_dict(plan) if plan else None
        )
        if definition is not None
        else StudySpec.from_records(study, profile, records)
    )
    timings = optuna_study.user_attrs.get(STEP_TIMING_ATTR, {})
    return LoadedStudy(spec=spec, records=records, source=f"Optuna storage {url}, study {name}", step_timings=timings)
