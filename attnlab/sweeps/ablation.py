"""A study's cells (rows x seeds) as trials of one Optuna study, trained by workers until all are finished.

Running the same command again resumes: finished cells are skipped, interrupted ones are trained,
and a study that is finished trains nothing. Launchers on several machines against one storage
share the work (see :mod:`attnlab.sweeps.store.ledger`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from attnlab.ablations import StudyDefinition, load_study, validate_study
from attnlab.errors import ConfigError
from attnlab.stats.sequential import SequentialPlan
from attnlab.sweeps.cluster.slurm import check_slurm, launch_on_slurm
from attnlab.sweeps.cluster.slurm_options import SlurmOptions
from attnlab.sweeps.local.launcher import run_workers
from attnlab.sweeps.local.options import LaunchOptions
from attnlab.sweeps.local.placement import Placement, plan_placement
from attnlab.sweeps.local.session import Session, open_session, profile_settings
from attnlab.sweeps.rounds import compared_count, decision_lines, run_rounds
from attnlab.sweeps.store.ledger import Ledger, LiveLedger, Progress
from attnlab.sweeps.store.records import STUDY_DEFINITION_ATTR, STUDY_PROFILE_ATTR
from attnlab.sweeps.store.storage import optuna_study_name


def summary(name: str, ledger: Ledger) -> list[str]:
    """The closing lines: each failed cell with its reason, then the counts, so the last line says how it went."""
    progress = ledger.progress()
    lines = [f"  failed {cell}: {reason}" for cell, reason in ledger.failures().items()]
    if all_failed(progress):
        lines.append(f"{name}: every cell failed ({progress.failed} of {progress.total}, reasons above)")
    else:
        lines.append(
            f"{name}: {progress.finished}/{progress.total} cells finished, "
            f"{progress.complete} complete, {progress.failed} failed"
        )
    return lines


def all_failed(progress: Progress) -> bool:
    return progress.total > 0 and progress.failed == progress.total


@dataclass(frozen=True)
class UntilDecided:
    """``--until-decided``: seeds for open rows up to ``max_seeds``, ``step`` a round, equivalence within ``margin``."""

    max_seeds: int
    margin: float | None = None
    step: int | None = None

    def plan(self, study: StudyDefinition) -> SequentialPlan:
        compared = compared_count(study)
        return SequentialPlan.for_study(
            study.seeds, self.max_seeds, step=self.step, margin=self.margin, compared_rows=compared
        )


def run_ablation(
    study_ref: str,
    profile: str,
    overrides: Mapping[str, Any],
    options: LaunchOptions,
    *,
    cell: str | None = None,
    console: Console | None = None,
    until_decided: UntilDecided | None = None,
    slurm: SlurmOptions | None = None,
) -> int:
    """Trains every unfinished cell of ``study_ref`` under ``profile`` (or only ``cell``); the exit status.

    With ``until_decided``, trains in rounds: the study's seeds, then more seeds for the rows whose
    verdict is still open (:mod:`attnlab.sweeps.rounds`). With ``slurm``, the workers are submitted as a
    SLURM job array instead of started here.
    """
    console = console or Console()
    if cell is not None and until_decided is not None:
        raise ConfigError("--cell and --until-decided: choose one; a single cell has no verdict to wait for")
    if slurm is not None and until_decided is not None:
        raise ConfigError(
            "--slurm and --until-decided: choose one; rounds are scheduled by a launcher that stays running "
            "(run --until-decided inside an allocation instead)"
        )
    check_slurm(slurm, options)
    placement = (
        None if slurm else plan_placement(1 if cell else options.workers, options.devices, options.devices_per_trial)
    )
    study = load_study(study_ref)
    plan = until_decided.plan(study) if until_decided is not None else None
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
    if plan is not None:
        return _run_until_decided(session, study, plan, name, placement, options, console)
    wanted = [cell] if cell else names

    live = LiveLedger(session.storage, session.study_id, wanted, options.max_retries)
    ledger = live.current

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
    for line in summary(name, final):
        console.print(line, markup=False, highlight=False)
    if status == 0 and (not final.finished or all_failed(final.progress())):
        return 1  # cells left (e.g. a worker crashed: running again resumes), or not one cell trained
    return status


def _run_until_decided(
    session: Session,
    study: StudyDefinition,
    plan: SequentialPlan,
    name: str,
    placement: Placement,
    options: LaunchOptions,
    console: Console,
) -> int:
    def run_round(cells: list[str]) -> int:
        live = LiveLedger(session.storage, session.study_id, cells, options.max_retries)

        def progress() -> Progress:
            return live.current().progress()

        spec = options.worker_spec(name, cells=cells)
        return run_workers(spec, placement.limited_to(len(cells)), progress, console)

    status, schedule = run_rounds(session, study, plan, options.max_retries, run_round, console)
    for line in decision_lines(schedule, study):
        console.print(line, markup=False, highlight=False)
    if status == 0:
        console.print(f"every row decided or at {plan.max_seeds} seeds: attnlab report {study.name}", highlight=False)
    return status
