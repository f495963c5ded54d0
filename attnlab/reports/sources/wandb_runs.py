"""Cells from W&B runs written by attnlab: group = study, name = cell, config ``attnlab: {study, row, seed, ...}``.

Runs reach here two ways, through the public API of a W&B server or from run files on disk
(:mod:`attnlab.reports.sources.wandb_log`); both become a :class:`WandbRun` and go through the one
conversion :func:`record_from_run`, so online and offline reports agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rich.progress import track

from attnlab.errors import ConfigError
from attnlab.reports.spec import LoadedStudy, StudySpec
from attnlab.sweeps.store.records import CellRecord

ATTNLAB_KEY = "attnlab"
# W&B run states -> cell states (crashed: the process stopped sending heartbeats; killed: stopped by hand).
RUN_STATES: dict[str, str] = {
    "finished": "complete",
    "failed": "failed",
    "crashed": "failed",
    "killed": "failed",
    "running": "running",
    "pending": "waiting",
}
_PROJECT_PATH = re.compile(r"[\w.-]+/[\w.-]+")


@dataclass(frozen=True)
class WandbRun:
    """The parts of a W&B run a report reads, whichever way it was loaded."""

    name: str
    group: str | None
    state: str  # a W&B run state: finished, failed, crashed, killed, running, pending
    config: Mapping[str, Any]
    summary: Mapping[str, Any]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def record_from_run(run: WandbRun) -> CellRecord | None:
    """The cell an attnlab run stands for; None for a run without the ``attnlab`` config entry."""
    cell = run.config.get(ATTNLAB_KEY)
    if not isinstance(cell, Mapping) or "row" not in cell or "seed" not in cell:
        return None
    state = RUN_STATES.get(run.state, "running")
    metrics = {key: number for key, value in run.summary.items() if (number := _number(value)) is not None}
    gmacs = _number(run.summary.get("cost/gmacs"))
    params = _number(run.summary.get("cost/params"))
    return CellRecord(
        study=str(cell.get("study", run.group)),
        row=str(cell["row"]),
        seed=int(cell["seed"]),
        axes=dict(cell.get("axes") or {}),
        config={key: value for key, value in run.config.items() if key != ATTNLAB_KEY and not key.startswith("_")},
        metrics=metrics,
        params=None if params is None else int(params),
        macs=None if gmacs is None else round(gmacs * 1e9),
        train_images_per_s=_number(run.summary.get("cost/train_images_per_s")),
        peak_memory_mb=_number(run.summary.get("cost/peak_memory_mb")),
        wall_time_s=_number(run.summary.get("_runtime")),
        state=state,
        failure_reason=f"W&B run {run.state}" if state == "failed" else None,
    )


def study_from_runs(study: str, profile: str, runs: Iterable[WandbRun], source: str) -> LoadedStudy:
    """The cells of ``study`` under ``profile`` among ``runs``; other runs are counted in the source line."""
    records, ignored = [], 0
    for run in runs:
        record = record_from_run(run) if run.group == study else None
        run_profile = run.config.get(ATTNLAB_KEY, {}).get("profile") if record is not None else None
        if record is None or run_profile not in (None, profile):
            ignored += 1
            continue
        records.append(record)
    if not records:
        raise ConfigError(f"{source}: no attnlab run of study {study!r} under profile {profile!r} (group = study)")
    spec = _definition_spec(study, profile) or StudySpec.from_records(study, profile, records)
    note = f" ({ignored} other runs ignored)" if ignored else ""
    return LoadedStudy(spec=spec, records=records, source=f"{source}{note}")


def _definition_spec(study: str, profile: str) -> StudySpec | None:
    """The built-in study's definition when ``study`` names one; W&B runs do not carry it."""
    from attnlab.ablations import builtin_studies, load_study

    if study not in builtin_studies():
        return None
    return StudySpec.from_definition(load_study(study), profile)


def load_from_wandb_api(path: str, study: str, profile: str) -> LoadedStudy:
    """The study's runs in the W&B project ``ENTITY/PROJECT``, through the public API."""
    if not _PROJECT_PATH.fullmatch(path):
        raise ConfigError(f"--wandb: {path!r} is not a project path; use ENTITY/PROJECT, e.g. my-team/attnlab")
    import wandb

    try:
        api_runs = list(wandb.Api(timeout=30).runs(path, filters={"group": study}))
    except Exception as error:  # the API raises its own errors and requests' errors alike
        raise ConfigError(f"--wandb {path}: cannot read the project: {str(error).splitlines()[0]}") from error
    runs = [
        WandbRun(name=run.name, group=run.group, state=run.state, config=run.config, summary=run.summary_metrics)
        for run in track(api_runs, description="reading W&B runs", transient=True)
    ]
    return study_from_runs(study, profile, runs, f"W&B project {path}")
