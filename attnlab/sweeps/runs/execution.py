"""One training of a cell or search trial, in this process or, for per-trial DDP, in a child process.

Lightning's ``ddp`` launcher starts the other ranks by re-running the current command line; inside
a worker that would start more workers. A multi-device trial therefore runs as
``python -m attnlab.sweeps.runs.child SPEC OUTCOME``: re-running that is exactly what the other ranks
need, and rank 0 writes the :class:`Outcome` for the worker to read. Inside a SLURM allocation
``srun`` starts the ranks instead (:mod:`~attnlab.sweeps.runs.slurm_steps`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import optuna

from attnlab.errors import ConfigError
from attnlab.sweeps.runs.environment import EnvironmentStop, as_environment_stop
from attnlab.sweeps.runs.slurm_steps import rank_launcher, stop_signal
from attnlab.sweeps.runs.wandb_runs import WandbRun, finish_run, make_logger

OutcomeState = Literal["complete", "failed", "pruned", "stopped"]  # stopped: by the machine
_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruningTarget:
    """The trial a run reports its monitored metric to, so a pruner can stop it early."""

    storage: str
    study: str
    trial_number: int
    monitor: str


@dataclass(frozen=True)
class RunSpec:
    """Everything one training needs, as plain data (it travels to a child process as JSON)."""

    args: list[str]
    run_test: bool = True
    wandb: WandbRun | None = None
    pruning: PruningTarget | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        data = json.loads(text)
        wandb = WandbRun(**data["wandb"]) if data["wandb"] else None
        pruning = PruningTarget(**data["pruning"]) if data["pruning"] else None
        return cls(args=data["args"], run_test=data["run_test"], wandb=wandb, pruning=pruning)


@dataclass(frozen=True)
class Outcome:
    """How a training ended: its result (a ``TrainResult`` as a dict) or why it did not finish."""

    state: OutcomeState
    result: dict[str, Any] | None = None
    reason: str | None = None


def _message(error: BaseException) -> str:
    """The first line of an error's message (tracebacks stay in the worker's log)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"


def _load_trial(target: PruningTarget) -> optuna.Trial:
    """The live trial a child process reports to (DDP pruning needs a database storage: checked up front)."""
    from attnlab.sweeps.store.storage import open_storage

    storage = open_storage(target.storage)
    study = optuna.load_study(study_name=target.study, storage=storage)
    study_id = storage.get_study_id_from_name(target.study)
    return optuna.Trial(study, storage.get_trial_id_from_study_id_trial_number(study_id, target.trial_number))


def run_here(spec: RunSpec, trial: optuna.Trial | None = None) -> Outcome:
    """Trains ``spec`` in this process; ``trial`` is the live trial to prune (loaded from storage if not given)."""
    from optuna_integration import PyTorchLightningPruningCallback

    from attnlab.modules.classifier import DivergedError
    from attnlab.training import run_training

    pruning = []
    if spec.pruning is not None:
        pruning = [PyTorchLightningPruningCallback(trial or _load_trial(spec.pruning), spec.pruning.monitor)]
    loggers = [make_logger(spec.wandb)] if spec.wandb is not None else []
    outcome = Outcome("failed", reason="interrupted")  # what the W&B run says if Ctrl-C stops the training
    try:
        result = run_training(spec.args, callbacks=pruning, loggers=loggers, run_test=spec.run_test)
        for callback in pruning:
            callback.check_pruned()  # under DDP the pruning decision travels through the storage
        outcome = Outcome("complete", result=dataclasses.asdict(result))
    except optuna.TrialPruned as pruned:
        outcome = Outcome("pruned", reason=str(pruned))
    except DivergedError as diverged:
        outcome = Outcome("failed", reason=f"diverged: {_message(diverged)}")
    except ConfigError as error:
        outcome = Outcome("failed", reason=f"config: {error}")
    except Exception as error:  # any other failure of one training is that cell's result, not the study's end
        stop = as_environment_stop(error)
        if stop is not None:  # a full disk is no result of the design: the cell stays to do
            raise stop from error
        _logger.exception("training failed")
        outcome = Outcome("failed", reason=f"{type(error).__name__}: {_message(error)}")
    finally:
        if spec.wandb is not None:
            finish_run(failed=outcome.state == "failed")
    return outcome


def _stop_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def run_in_child(spec: RunSpec, devices: int) -> Outcome:
    """Trains ``spec`` as ``python -m attnlab.sweeps.runs.child``, which Lightning's DDP launcher can re-run per rank."""
    with tempfile.TemporaryDirectory(prefix="attnlab-trial-") as folder:
        spec_path, outcome_path = Path(folder, "spec.json"), Path(folder, "outcome.json")
        spec_path.write_text(spec.to_json(), encoding="utf-8")
        child = [sys.executable, "-m", "attnlab.sweeps.runs.child", str(spec_path), str(outcome_path)]
        command = rank_launcher(devices) + child
        # Its own process group: the ranks it starts can be stopped together, and none outlives the trial.
        process = subprocess.Popen(command, start_new_session=True)
        try:
            code = process.wait()
        except BaseException:
            _stop_group(process, stop_signal())
            process.wait()
            raise
        finally:
            _stop_group(process, signal.SIGKILL)
        if not outcome_path.is_file():
            return Outcome("failed", reason=f"training process exited with status {code} before reporting")
        outcome = Outcome(**json.loads(outcome_path.read_text(encoding="utf-8")))
        if outcome.state == "stopped":
            raise EnvironmentStop(outcome.reason)
        return outcome


def execute(spec: RunSpec, devices_per_trial: int, trial: optuna.Trial | None = None) -> Outcome:
    """Trains ``spec`` here (one device) or in a DDP child process (several)."""
    return run_here(spec, trial) if devices_per_trial == 1 else run_in_child(spec, devices_per_trial)


def write_outcome(outcome: Outcome, path: Path) -> None:
    """How a child hands its outcome to the worker (rank 0 only)."""
    path.write_text(json.dumps(dataclasses.asdict(outcome)), encoding="utf-8")
