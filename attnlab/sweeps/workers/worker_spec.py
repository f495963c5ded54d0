"""What a worker process is told by its launcher (as JSON on its command line), and what it opens from that."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.storages import BaseStorage

from attnlab.sweeps.runs.checkpoints import DEFAULT_KEPT
from attnlab.sweeps.store.attempts import retry_lost_search_trials
from attnlab.sweeps.store.settings import stored_settings
from attnlab.sweeps.store.storage import Heartbeat, StaleTrialCallback, open_storage
from attnlab.sweeps.store.storage_outages import DEFAULT_STORAGE_TIMEOUT_S

DEFAULT_MAX_RETRIES = 2


@dataclass(frozen=True)
class WorkerSpec:
    """One worker's orders: which study in which storage, on how many devices, with what guarantees.

    The job itself (cells or search space, profile, overrides) is not here: the worker reads it from
    the study's stored settings, so every worker of a study runs the same thing.
    """

    storage: str
    study: str  # the Optuna study name, STUDY@PROFILE
    devices_per_trial: int = 1
    threads: int | None = None  # torch threads on CPU: the machine's cores split between workers
    cpus: list[int] | None = None  # the cores this worker is pinned to on CPU (disjoint from its siblings')
    max_retries: int = DEFAULT_MAX_RETRIES
    heartbeat_interval_s: int = 30
    grace_s: int = 120
    wandb: bool = False
    wandb_project: str | None = None
    cell: str | None = None  # train only this cell (a W&B sweep agent's run)
    cells: list[str] | None = None  # train only these cells (a round of --until-decided)
    slot: int = 0  # this worker's index in its launcher (offsets a seeded sampler)
    checkpoints: str = DEFAULT_KEPT  # what a complete cell keeps: best, last or none
    storage_timeout_s: int = DEFAULT_STORAGE_TIMEOUT_S  # how long a storage outage is waited out

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        return cls(**json.loads(text))

    def heartbeat(self, on_stale: StaleTrialCallback | None = None) -> Heartbeat:
        """How this worker's trials beat, and what happens to a lost one."""
        return Heartbeat(self.heartbeat_interval_s, self.grace_s, on_stale)


@dataclass(frozen=True)
class WorkerContext:
    """The opened storage and study a worker runs against, with the settings the study was created with."""

    spec: WorkerSpec
    storage: BaseStorage
    study: optuna.Study
    study_id: int
    settings: dict[str, Any]

    @classmethod
    def open(cls, spec: WorkerSpec) -> WorkerContext:
        """Opens ``spec``'s storage (with heartbeats, lost search trials re-queued) and study."""
        heartbeat = spec.heartbeat(retry_lost_search_trials(spec.max_retries))
        storage = open_storage(spec.storage, heartbeat=heartbeat, storage_timeout_s=spec.storage_timeout_s)
        study = optuna.load_study(study_name=spec.study, storage=storage)
        return cls(spec, storage, study, storage.get_study_id_from_name(spec.study), stored_settings(study))

    @property
    def profile_file(self) -> str:
        from attnlab.ablations import profile_path

        return str(profile_path(self.settings["profile"]))
