"""A study's cells (rows x seeds) as trials of one Optuna study, trained by workers until all are finished.

Running the same command again resumes: finished cells are skipped, interrupted ones are trained,
and a study that is finished trains nothing. Launchers on several machines against one storage
share the work (see :mod:`attnlab.sweeps.ledger`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console

from attnlab.ablations import load_study, validate_study
from attnlab.errors import ConfigError
from attnlab.sweeps.launcher import run_workers
from attnlab.sweeps.ledger import Ledger, Progress
from attnlab.sweeps.options import LaunchOptions
from attnlab.sweeps.placement import plan_placement
from attnlab.sweeps.records import STUDY_DEFINITION_ATTR, STUDY_PROFILE_ATTR
from attnlab.sweeps.session import Session, open_session, profile_settings
from attnlab.sweeps.slurm import check_slurm, launch_on_slurm
from attnlab.sweeps.slurm_options import SlurmOptions
from attnlab.sweeps.storage import optuna_study_name


def _summary(name: str, ledger: Ledger, progress: Progress) -> list[str]:
    lines = [
        f"{name}: {progress.finished}/{progress.total} cells finished, "
        f"{progress.complete} complete, {progress.failed} failed"
    ]
    lines += [f"  failed {cell}: {reason}" for cell, reason in ledger.failures().items()]
    return lines


def run_ablation(
    study_ref: str,
    profile: str,
    overrides: Mapping[str, Any],
    options: LaunchOptions,
    *,
    cell: str | None = None,
    console: Console | None = None,
    slurm: SlurmOptions | None = None,
) -> int:
    """Trains every unfinished cell of ``study_ref`` under ``profile`` (or only ``cell``); the exit status.

    With ``slurm``, the workers are submitted as a SLURM job array instead of started here.
    """
    console = console or Console()
    check_slurm(slurm, options)
    placement = (
        None if slurm else plan_placement(1 if cell else options.workers, options.devices, options.devices_per_trial)
    )
    study = load_study(study_ref)
    names = [each.name for each in study.cells(overrides)]
    if cell is not None and cell not in names:
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        raise ConfigError(f"--cell {cell!r}: not a cell of {study.name}; cells are ROW/seedN: {shown}")
    definition = study.to_dict()
    settings = {"kind": "cells", "definition": definition, "overrides": dict(overrides)} | profile_settings(profile)
    attrs = {STUDY_DEFINITION_ATTR: definition, STUDY_PROFILE_ATTR: profile}
    name = optuna_study_name(study.name, profile)
    session: Session = open_session(
        options, name, study.direction, settings, attrs, validate=lambda: validate_study(study, profile, overrides)
    )
    wanted = [cell] if cell else names

    def ledger() -> Ledger:
        return Ledger(wanted, session.storage.get_all_trials(session.study_id, deepcopy=False), options.max_retries)

    before = ledger().progress()
    if before.finished == before.total:
        console.print(f"{name}: nothing to train, every cell is finished")
        status = 0
    elif slurm is not None:
        status = launch_on_slurm(
            options.worker_spec(name, cell), slurm, options, session, lambda: ledger().progress(), console
        )
        if not slurm.wait:
            return status
    else:
        todo = placement.limited_to(before.total - before.finished)
        status = run_workers(options.worker_spec(name, cell), todo, lambda: ledger().progress(), console)
    final = ledger()
    for line in _summary(name, final, final.progress()):
        console.print(line, markup=False, highlight=False)
    if status == 0 and not final.finished:
        return 1  # workers ended with cells left (e.g. a worker crashed): running again resumes
    return status
