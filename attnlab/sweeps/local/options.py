"""The options ``attnlab ablate`` and ``attnlab sweep`` share: storage, workers and devices, retries, W&B."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from attnlab.errors import ConfigError
from attnlab.option_ranges import int_in
from attnlab.sweeps.runs.checkpoints import CHECKPOINT_CHOICES, DEFAULT_KEPT
from attnlab.sweeps.store.storage import DEFAULT_STORAGE, Heartbeat
from attnlab.sweeps.store.storage_outages import DEFAULT_STORAGE_TIMEOUT_S, MAX_STORAGE_TIMEOUT_S
from attnlab.sweeps.workers.worker_spec import DEFAULT_MAX_RETRIES, WorkerSpec

MAX_WORKERS = 1024  # per launcher; more machines share a study through one --storage
MAX_DEVICES_PER_TRIAL = 1024
MAX_RETRIES = 100


@dataclass(frozen=True)
class LaunchOptions:
    """How and where to run a study's trials, as given on the command line."""

    storage: str = DEFAULT_STORAGE
    workers: int | None = None
    devices: str | None = None
    devices_per_trial: int = 1
    max_retries: int = DEFAULT_MAX_RETRIES
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    wandb: bool = False
    wandb_project: str | None = None
    checkpoints: str = DEFAULT_KEPT
    storage_timeout_s: int = DEFAULT_STORAGE_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigError(f"--max-retries: {self.max_retries}; use 0 or more")
        if self.checkpoints not in CHECKPOINT_CHOICES:
            raise ConfigError(f"--checkpoints: {self.checkpoints!r}; use one of {', '.join(CHECKPOINT_CHOICES)}")

    def worker_spec(self, study: str, cell: str | None = None, cells: list[str] | None = None) -> WorkerSpec:
        """What every worker of this launch is told (its slot and threads are added per worker)."""
        return WorkerSpec(
            storage=self.storage,
            study=study,
            devices_per_trial=self.devices_per_trial,
            max_retries=self.max_retries,
            heartbeat_interval_s=self.heartbeat.interval_s,
            grace_s=self.heartbeat.grace_s,
            wandb=self.wandb,
            wandb_project=self.wandb_project,
            cell=cell,
            checkpoints=self.checkpoints,
            cells=cells,
            storage_timeout_s=self.storage_timeout_s,
        )


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """The study, its ``--profile`` and ``--set`` overrides: how ``ablate`` and ``wandb-sweep`` name the cells."""
    from attnlab.ablations.options import add_profile_options

    parser.add_argument("study", help="a built-in study (see 'attnlab studies') or a study .yaml file")
    add_profile_options(parser)


def add_storage_timeout_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--storage-timeout``: how long ``ablate``, ``sweep`` and ``status`` wait out a database outage."""
    parser.add_argument(
        "--storage-timeout",
        type=int_in(1, MAX_STORAGE_TIMEOUT_S),
        default=DEFAULT_STORAGE_TIMEOUT_S,
        metavar="SECONDS",
        help="how long an unreachable database is waited for before the command stops, its running cells "
        f"left to do (default {DEFAULT_STORAGE_TIMEOUT_S})",
    )


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the shared options to a subcommand's parser."""
    defaults = LaunchOptions()
    where = parser.add_argument_group("storage and workers")
    where.add_argument(
        "--storage",
        default=DEFAULT_STORAGE,
        help=f"Optuna storage shared by all workers: a journal file (default {DEFAULT_STORAGE}), sqlite:///FILE, "
        "or postgresql://USER:PASSWORD@HOST/DB for workers on many machines",
    )
    add_storage_timeout_argument(where)
    where.add_argument(
        "--workers",
        type=int_in(1, MAX_WORKERS),
        help="worker processes (default: one per GPU group, or 1 on CPU, cores split)",
    )
    where.add_argument("--devices", help="GPUs to use, as indices among the visible ones, e.g. 0,1,2,3 (default: all)")
    where.add_argument(
        "--devices-per-trial",
        type=int_in(1, MAX_DEVICES_PER_TRIAL),
        default=1,
        help="GPUs (or CPU processes) per trial; >1 runs each trial as DDP",
    )
    where.add_argument(
        "--max-retries",
        type=int_in(0, MAX_RETRIES),
        default=defaults.max_retries,
        help=f"how often a trial whose worker died is retried (default {defaults.max_retries})",
    )
    where.add_argument(
        "--heartbeat-interval",
        type=int_in(1, 3600),
        default=defaults.heartbeat.interval_s,
        help=f"seconds between a running trial's heartbeats (default {defaults.heartbeat.interval_s})",
    )
    where.add_argument(
        "--grace-period",
        type=int_in(1, 7 * 86400),
        default=defaults.heartbeat.grace_s,
        help=f"seconds without a heartbeat after which a trial's worker counts as dead (default "
        f"{defaults.heartbeat.grace_s})",
    )
    where.add_argument(
        "--checkpoints",
        choices=CHECKPOINT_CHOICES,
        default=DEFAULT_KEPT,
        help="what a complete trial keeps on disk: its best checkpoint (what explain loads), its last, or none "
        f"(default {DEFAULT_KEPT}; last.ckpt exists while it trains, to resume from)",
    )
    logging = parser.add_argument_group("Weights & Biases")
    logging.add_argument("--wandb", action="store_true", help="log every trial as a W&B run (grouped by study)")
    logging.add_argument("--wandb-project", help="W&B project (default: $WANDB_PROJECT, else attnlab)")


def launch_options(args: argparse.Namespace) -> LaunchOptions:
    """The shared options from parsed arguments, checked."""
    return LaunchOptions(
        storage=args.storage,
        workers=args.workers,
        devices=args.devices,
        devices_per_trial=args.devices_per_trial,
        max_retries=args.max_retries,
        heartbeat=Heartbeat(args.heartbeat_interval, args.grace_period),
        wandb=args.wandb,
        wandb_project=args.wandb_project,
        checkpoints=args.checkpoints,
        storage_timeout_s=args.storage_timeout,
    )
