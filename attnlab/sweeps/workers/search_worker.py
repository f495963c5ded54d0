"""A worker's loop over a hyper-parameter search: ask the sampler for a trial, train it with pruning, record it.

Trials come from ``Study.optimize`` (so Optuna's sampler, pruner, heartbeat and retry machinery
apply unchanged), one at a time, until the sweep's ``n_trials`` have finished across all workers.
Exactly ``n_trials`` train: a trial asked while the budget was already taken by lower-numbered
trials (two workers asking at once) is marked superseded and trains nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from attnlab.ablations.overrides import SEED_KEY
from attnlab.errors import ConfigError
from attnlab.sweeps.runs.environment import STOPPED_REASON, EnvironmentStop
from attnlab.sweeps.runs.execution import Outcome, PruningTarget, RunSpec, execute
from attnlab.sweeps.runs.trial_runs import (
    device_overrides,
    finished_record,
    log_version_override,
    train_args,
    write_record,
)
from attnlab.sweeps.runs.wandb_runs import WandbRun, axis_tags, project_name
from attnlab.sweeps.store.attempts import End, Standing, fail_lost_attempts, mark_end, runner_attrs, standing
from attnlab.sweeps.store.ledger import Progress
from attnlab.sweeps.store.polling import Backoff
from attnlab.sweeps.store.records import CellRecord
from attnlab.sweeps.store.settings import log_folder
from attnlab.sweeps.store.trial_feed import TrialFeed
from attnlab.sweeps.store.trial_pages import STATES_ONLY
from attnlab.sweeps.workers.sweep_file import SweepDefinition
from attnlab.sweeps.workers.worker import stop_requested, stop_under_way
from attnlab.sweeps.workers.worker_spec import WorkerContext

FIRST_POLL_S = 1.0  # an idle search worker's first wait, doubling while the last trials run elsewhere
MAX_POLL_S = 60.0  # its longest (capped by the heartbeat interval)


class TrialEnded(Exception):
    """A trial that ends without a value (failed or surplus): Optuna records it as FAIL, the search goes on."""


def _suggest(trial: optuna.Trial, key: str, distribution: BaseDistribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(key, distribution.choices)
    suggest = trial.suggest_int if isinstance(distribution, IntDistribution) else trial.suggest_float
    step = None if distribution.log else distribution.step
    return suggest(key, distribution.low, distribution.high, step=step, log=distribution.log)


class SearchTally:
    """How the search's trials stand, kept current from what changed (a ``TrialFeed``): a poll reads
    the new and unfinished trials only, and keeps each trial's standing, not the trial."""

    def __init__(self, storage: BaseStorage, study_id: int) -> None:
        self._feed = TrialFeed(storage, study_id, STATES_ONLY)  # a standing reads states and marks only
        self._standings: dict[int, tuple[Standing, TrialState]] = {}  # trial number -> (standing, state)

    def refresh(self) -> SearchTally:
        for trial in self._feed.changed():
            self._standings[trial.number] = (standing(trial), trial.state)
        return self

    def counts(self) -> dict[Standing, int]:
        counts = dict.fromkeys(Standing, 0)
        for held, _ in self._standings.values():
            counts[held] += 1
        return counts

    def any_waiting(self) -> bool:
        return any(state == TrialState.WAITING for _, state in self._standings.values())

    def progress(self, n_trials: int) -> Progress:
        """Trials of a search by state (pruned ones count as complete: they finished as intended)."""
        final = [state for held, state in self._standings.values() if held is Standing.FINAL]
        failed = final.count(TrialState.FAIL)
        running = sum(state == TrialState.RUNNING for _, state in self._standings.values())
        return Progress(total=n_trials, complete=len(final) - failed, failed=failed, running=running)

    def is_surplus(self, number: int, n_trials: int) -> bool:
        """Whether ``n_trials`` lower-numbered trials already run or ran: then trial ``number`` is one too many."""
        live = (Standing.ACTIVE, Standing.FINAL)
        taken = sum(held in live for other, (held, _) in self._standings.items() if other < number)
        return taken >= n_trials


class SearchObjective:
    """Trains one search trial: the sampled parameters on top of the sweep's base, under its profile."""

    def __init__(self, context: WorkerContext, sweep: SweepDefinition) -> None:
        self.context = context
        self.sweep = sweep
        self.distributions = sweep.distributions()
        self.tally = SearchTally(context.storage, context.study_id)

    def _trial_id(self, trial: optuna.Trial) -> int:
        return self.context.storage.get_trial_id_from_study_id_trial_number(self.context.study_id, trial.number)

    def _end(self, trial_id: int, end: End, reason: str) -> TrialEnded:
        mark_end(self.context.storage, trial_id, end)
        return TrialEnded(reason)

    def _wandb_run(self, number: int, params: dict[str, Any], config: dict[str, Any]) -> WandbRun | None:
        if not self.context.spec.wandb:
            return None
        naming = {"sweep": self.sweep.name, "trial": number, "params": params, "profile": self.sweep.profile}
        return WandbRun(
            project=project_name(self.context.spec.wandb_project),
            group=self.sweep.name,
            name=f"trial{number}",
            tags=axis_tags(params),
            config={**config, "attnlab": naming},
        )

    def _run(self, trial: optuna.Trial, trial_id: int, params: dict[str, Any]) -> tuple[CellRecord, Outcome]:
        from attnlab.training import validate_train_args

        devices = self.context.spec.devices_per_trial
        overrides = self.sweep.base | params | {SEED_KEY: self.sweep.seed} | device_overrides(devices)
        args = train_args(self.context.profile_file, overrides)
        record = CellRecord(
            study=self.sweep.name, row=f"trial{trial.number}", seed=self.sweep.seed, axes=params, state="running"
        )
        try:
            config = validate_train_args(args)
        except ConfigError as error:
            write_record(self.context.storage, trial_id, record)
            return record, Outcome("failed", reason=f"config: {error}")
        record = dataclasses.replace(record, config=config)
        write_record(self.context.storage, trial_id, record)
        version = f"{log_folder(self.context.study)}/trial{trial.number}"
        pruning = None
        if self.sweep.pruner["name"] != "none":
            pruning = PruningTarget(
                self.context.spec.storage, self.context.study.study_name, trial.number, self.sweep.metric
            )
        spec = RunSpec(
            args=train_args(self.context.profile_file, overrides | log_version_override(config, version)),
            run_test=False,  # the search chooses on validation data; the test split stays unseen
            wandb=self._wandb_run(trial.number, params, config),
            pruning=pruning,
        )
        return record, execute(spec, devices, trial)

    def __call__(self, trial: optuna.Trial) -> float:
        trial_id = self._trial_id(trial)
        for key, value in runner_attrs().items():
            self.context.storage.set_trial_system_attr(trial_id, key, value)
        if self.tally.refresh().is_surplus(trial.number, self.sweep.n_trials):
            raise self._end(trial_id, End.SUPERSEDED, f"the sweep's {self.sweep.n_trials} trials are taken")
        params = {key: _suggest(trial, key, distribution) for key, distribution in self.distributions.items()}
        try:
            record, outcome = self._run(trial, trial_id, params)
        except (KeyboardInterrupt, SystemExit):  # Lightning turns Ctrl-C into SystemExit; Optuna expects this
            stop_under_way()
            mark_end(self.context.storage, trial_id, End.INTERRUPTED)
            raise KeyboardInterrupt from None
        except EnvironmentStop as stop:  # a full disk: the trial is still to do once it is freed
            mark_end(self.context.storage, trial_id, End.INTERRUPTED, STOPPED_REASON.format(stop))
            raise
        done, value = finished_record(record, outcome, self.sweep.metric)
        if outcome.state == "pruned":
            reported = self.context.storage.get_trial(trial_id).intermediate_values
            done = dataclasses.replace(done, metrics={self.sweep.metric: reported[max(reported)]} if reported else {})
        write_record(self.context.storage, trial_id, done, previous=record)
        if outcome.state == "pruned":
            raise optuna.TrialPruned(outcome.reason)
        if value is None:
            raise self._end(trial_id, End.FINAL, done.failure_reason or "failed")
        return value


def run_search(context: WorkerContext) -> None:
    """Runs search trials until the sweep's ``n_trials`` have finished (over all workers)."""
    sweep = SweepDefinition.from_dict(context.settings["definition"])
    context.study.sampler = sweep.make_sampler(context.spec.slot)
    context.study.pruner = sweep.make_pruner()
    objective = SearchObjective(context, sweep)
    beat_s = float(context.spec.heartbeat_interval_s)
    idle = Backoff(min(FIRST_POLL_S, beat_s), min(MAX_POLL_S, beat_s))
    while True:
        if stop_requested():  # a Ctrl-C whose KeyboardInterrupt was swallowed: no further trial
            raise KeyboardInterrupt("a stop signal came during the last trial")
        fail_lost_attempts(context.study, context.storage, context.spec.grace_s)
        tally = objective.tally.refresh()
        counts = tally.counts()
        if counts[Standing.FINAL] >= sweep.n_trials:
            return
        if counts[Standing.FINAL] + counts[Standing.ACTIVE] >= sweep.n_trials and not tally.any_waiting():
            idle.wait()  # the rest are running elsewhere: wait in case one of them is lost
            continue
        idle.reset()
        context.study.optimize(objective, n_trials=1, catch=(TrialEnded,))
