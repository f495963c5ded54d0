"""A tiny study on the embedded digits (a few seconds per cell) and helpers to run real ``attnlab`` processes.

A module of its own name (not ``conftest``, which is ambiguous between test folders), so that
processes the tests spawn import the same helpers.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from attnlab.sweeps.store.attempts import CELL_ATTR, WORKER_ATTR
from attnlab.sweeps.store.storage import open_storage

TINY_PROFILE: dict[str, Any] = {
    "seed_everything": 0,
    "trainer": {
        "max_epochs": 1,
        "accelerator": "cpu",
        "devices": 1,
        "limit_train_batches": 4,
        "limit_val_batches": 2,
        "limit_test_batches": 2,
        "enable_model_summary": False,
        "log_every_n_steps": 1,
    },
    "model": {
        "backbone": {"name": "resnet18", "stem": "cifar", "width": 0.125},
        "attention": {"type": "cbam", "reduction": 2},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False},
    },
    "data": {"class_path": "attnlab.datamodules.DigitsDataModule", "init_args": {"batch_size": 32}},
}
DIVERGING = {"model.optimizer.lr": 1.0e12}  # the loss is NaN within a few steps


@functools.cache
def _opened(url: str) -> optuna.storages.BaseStorage:
    return open_storage(url)


@dataclass(frozen=True)
class Tiny:
    """Files of a tiny study in the test's folder (the working directory of every command)."""

    folder: Path
    profile: Path
    journal: str

    def study(self, rows: dict[str, dict[str, Any]], seeds: list[int], name: str = "tiny") -> Path:
        """A study file with these rows (name -> patch); the first row is the baseline."""
        path = self.folder / f"{name}.yaml"
        study = {
            "name": name,
            "description": "a tiny study for the tests",
            "rows": {row: {"patch": patch} for row, patch in rows.items()},
            "seeds": seeds,
            "baseline": next(iter(rows)),
        }
        path.write_text(yaml.safe_dump(study, sort_keys=False))
        return path

    def run(self, *args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """``attnlab ARGS`` to the end, in the test's folder."""
        return subprocess.run(
            [sys.executable, "-m", "attnlab", *args],
            cwd=self.folder,
            env=os.environ | (env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str) -> subprocess.Popen:
        """``attnlab ARGS`` in the background, in a process group of its own (to signal it and its workers)."""
        log = (self.folder / f"launcher-{time.monotonic_ns()}.log").open("w")
        return subprocess.Popen(
            [sys.executable, "-m", "attnlab", *args],
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def trials(self, study: str, storage: str | None = None) -> list[optuna.trial.FrozenTrial]:
        """The study's trials; none while no launcher has created it yet."""
        url = storage or self.journal
        if "://" not in url and not Path(url).exists():
            return []
        opened = _opened(url)  # one storage per URL: a journal is then read incrementally, not replayed per poll
        if study not in optuna.get_all_study_names(opened):
            return []
        return optuna.load_study(study_name=study, storage=opened).trials


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Polls ``condition`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def race(target: Callable[..., None], racers: list[tuple[Any, ...]]) -> list[Any]:
    """Runs ``target(*args, start, results)`` in one spawned process per ``args``, released at the same moment;
    returns what each put on ``results``."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=target, args=(*args, start, results)) for args in racers]
    for process in processes:
        process.start()
    start.set()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return outcomes


def metrics_files(folder: Path, study: str) -> list[Path]:
    """One CSV log per training of ``study`` (the sweeps name each run's log folder after its trial, under
    ``STUDY@PROFILE-TOKEN``, the token of the storage that created the study)."""
    return sorted((folder / "runs" / "train").glob(f"**/{study}-????????/**/metrics.csv"))


def worker_pid(trial: optuna.trial.FrozenTrial) -> int:
    """The process id of the worker that claimed ``trial`` (its ``HOST:PID`` mark)."""
    return int(trial.system_attrs[WORKER_ATTR].rsplit(":", 1)[1])


def training_under(trials: list[optuna.trial.FrozenTrial], launcher: subprocess.Popen) -> Any:
    """A cell training (running, its config recorded) in a worker of ``launcher``'s process group; None if none."""
    for trial in trials:
        if trial.state == optuna.trial.TrialState.RUNNING and "attnlab.config" in trial.user_attrs:
            try:
                if os.getpgid(worker_pid(trial)) == launcher.pid:
                    return trial
            except ProcessLookupError:
                continue
    return None


def completions(trials: list[optuna.trial.FrozenTrial]) -> Counter[str]:
    """How often each cell was completed (exactly once each, when all is well)."""
    return Counter(trial.system_attrs[CELL_ATTR] for trial in trials if trial.state == optuna.trial.TrialState.COMPLETE)
