"""A worker's loop over a study's cells: claim the next unfinished cell, train it, record it, until none is left.

A worker keeps going while other workers still run cells: if one of them dies, its cell comes back
(once its heartbeat is overdue) and this worker takes it. See :mod:`attnlab.sweeps.store.ledger` for why
no cell is trained twice.
"""

from __future__ import annotations

import dataclasses
import logging

from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from attnlab.ablations import Cell, StudyDefinition
from attnlab.errors import ConfigError
from attnlab.stats.sequential import PLAN_ATTR
from attnlab.sweeps.runs.checkpoints import keep_checkpoints
from attnlab.sweeps.runs.environment import STOPPED_REASON, as_environment_stop
from attnlab.sweeps.runs.execution import Outcome, RunSpec, execute
from attnlab.sweeps.runs.resume import resume_override
from attnlab.sweeps.runs.trial_runs import (
    device_overrides,
    finished_record,
    log_version_override,
    train_args,
    write_record,
)
from attnlab.sweeps.runs.wandb_runs import WandbRun, axis_tags, project_name
from attnlab.sweeps.store.attempts import End, end_attempt, fail_lost_attempts, keep_alive
from attnlab.sweeps.store.dashboard_meta import DesignParams, annotate_cell
from attnlab.sweeps.store.ledger import Claim, LiveLedger, claim, pick
from attnlab.sweeps.store.polling import Backoff
from attnlab.sweeps.store.records import CellRecord
from attnlab.sweeps.store.settings import log_folder
from attnlab.sweeps.workers.step_times import ensure_step_timing
from attnlab.sweeps.workers.worker import stop_requested, stop_under_way
from attnlab.sweeps.workers.worker_spec import WorkerContext

_logger = logging.getLogger(__name__)
FIRST_POLL_S = 1.0  # an idle worker's first wait before it looks again for cells freed by dead workers
MAX_POLL_S = 60.0  # its longest wait, doubling while nothing is left for it (capped by the heartbeat interval)


def study_cells(context: WorkerContext) -> dict[str, Cell]:
    """The study's cells by name, rebuilt from the stored settings (and the seeds-until-decided plan), seed by seed."""
    definition = StudyDefinition.from_dict(context.settings["definition"])
    plan = context.study.user_attrs.get(PLAN_ATTR)
    seeds = tuple(plan["seeds"]) if plan else None
    return {cell.name: cell for cell in definition.cells(context.settings["overrides"], seeds)}


def _wandb_run(context: WorkerContext, cell: Cell, config: dict) -> WandbRun | None:
    if not context.spec.wandb:
        return None
    naming = {"study": cell.study, "row": cell.row, "seed": cell.seed, "axes": cell.axes}
    return WandbRun(
        project=project_name(context.spec.wandb_project),
        group=cell.study,
        name=cell.name,
        tags=axis_tags(cell.axes),
        config={**config, "attnlab": {**naming, "profile": context.settings["profile"]}},
    )


def _train(context: WorkerContext, cell: Cell, claimed: Claim) -> tuple[CellRecord, Outcome]:
    """Resolves, records as running, and trains the claimed cell."""
    from attnlab.training import validate_train_args  # the training stack: only workers import it

    overrides = cell.overrides | device_overrides(context.spec.devices_per_trial)
    args = train_args(context.profile_file, overrides)
    record = CellRecord(study=cell.study, row=cell.row, seed=cell.seed, axes=cell.axes, state="running")
    try:
        config = validate_train_args(args)
    except ConfigError as error:
        write_record(context.storage, claimed.trial_id, record)
        return record, Outcome("failed", reason=f"config: {error}")
    folder = log_folder(context.study)
    resume = resume_override(config, folder, cell.name, claimed.number)
    if resume:
        _logger.info("cell %s: resuming from %s", cell.name, resume["ckpt_path"])
    record = dataclasses.replace(record, config=config | resume)
    write_record(context.storage, claimed.trial_id, record)
    version = f"{folder}/{cell.name}/trial{claimed.number}"
    args = train_args(context.profile_file, overrides | log_version_override(config, version) | resume)
    spec = RunSpec(args=args, run_test=True, wandb=_wandb_run(context, cell, config))
    return record, execute(spec, context.spec.devices_per_trial)


def _finish(context: WorkerContext, claimed: Claim, record: CellRecord, outcome: Outcome) -> None:
    metric = context.settings["definition"]["metric"]
    done, value = finished_record(record, outcome, metric)
    write_record(context.storage, claimed.trial_id, done, previous=record)
    if value is None:
        end_attempt(context.storage, claimed.trial_id, End.FINAL)
        _logger.warning("cell %s failed: %s", record.cell, done.failure_reason)
    else:
        context.storage.set_trial_state_values(claimed.trial_id, TrialState.COMPLETE, [value])
        _logger.info("cell %s complete: %s = %.4g", record.cell, metric, value)
        keep_checkpoints(outcome.result["best_checkpoint"], context.spec.checkpoints)


def run_cell(context: WorkerContext, cell: Cell, claimed: Claim, design: DesignParams) -> None:
    """Trains one claimed cell and stores its record (``design``: the study's dashboard parameters);
    an interruption leaves the cell to do."""
    _logger.info("cell %s: training as trial %d", cell.name, claimed.number)
    try:
        with keep_alive(context.storage, claimed.trial_id):
            record, outcome = _train(context, cell, claimed)
            log_dir, metric = (outcome.result or {}).get("log_dir"), context.settings["definition"]["metric"]
            annotate_cell(context.study, claimed.trial_id, cell, design, metric, log_dir)
            _finish(context, claimed, record, outcome)
    except (KeyboardInterrupt, SystemExit):  # Lightning turns Ctrl-C into SystemExit
        stop_under_way()
        end_attempt(context.storage, claimed.trial_id, End.INTERRUPTED)
        raise KeyboardInterrupt from None
    except UpdateFinishedTrialError:
        _logger.warning(
            "cell %s: trial %d was declared lost while it trained (no heartbeat for %d s); its result is dropped",
            cell.name,
            claimed.number,
            context.spec.grace_s,
        )
    except Exception as error:
        stop = as_environment_stop(error)
        if stop is None:
            raise
        try:
            end_attempt(context.storage, claimed.trial_id, End.INTERRUPTED, STOPPED_REASON.format(stop))
        except OSError:
            _logger.warning(
                "cell %s: could not be marked interrupted; it is retried once its heartbeat is overdue", cell.name
            )
        raise stop from error


def run_cells(context: WorkerContext) -> None:
    """Claims and trains cells until every cell (or the one ``--cell``, or the round's ``cells``) is finished."""
    cells = study_cells(context)
    design = DesignParams.of(cells.values())  # once: the study's cells do not change while it runs
    names = [context.spec.cell] if context.spec.cell else list(context.spec.cells or cells)
    timing_due = True

    def time_steps_once() -> None:
        """The study's step timing, after this worker's first cell or when none is left for it: no cell waits."""
        nonlocal timing_due
        if timing_due:
            timing_due = False
            ensure_step_timing(context, list(cells.values()))

    lost_races = 0
    beat_s = float(context.spec.heartbeat_interval_s)
    idle = Backoff(min(FIRST_POLL_S, beat_s), min(MAX_POLL_S, beat_s))
    live = LiveLedger(context.storage, context.study_id, names, context.spec.max_retries)
    while True:
        if stop_requested():  # a Ctrl-C whose KeyboardInterrupt was swallowed: no further cell
            raise KeyboardInterrupt("a stop signal came during the last cell")
        fail_lost_attempts(context.study, context.storage, context.spec.grace_s)
        ledger = live.current()
        if ledger.finished:
            time_steps_once()
            return
        claimable = ledger.claimable()
        if not claimable:  # others are running the rest: wait in case one of them dies
            time_steps_once()
            idle.wait()
            continue
        idle.reset()
        name = pick(claimable, context.spec.slot + lost_races)
        claimed = claim(live, name)
        if claimed is None:
            lost_races += 1
        else:
            run_cell(context, cells[name], claimed, design)
            time_steps_once()
