"""The ``--slurm`` options of ``attnlab ablate`` and ``attnlab sweep``: where and how long the array of workers runs."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field

from attnlab.errors import ConfigError

DEFAULT_TIME = "4:00:00"
DEFAULT_SIGNAL_DELAY_S = 120
_TIME_FORMS = "MINUTES, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"
_TIME = re.compile(r"^(?:(?P<days>\d+)-)?(?P<parts>\d+(?::\d+){0,2})$")


def time_minutes(text: str) -> int:
    """A SLURM time limit (``4:00:00``, ``90``, ``1-12``) in whole minutes, rounded up, as submitit takes it."""
    match = _TIME.match(text.strip())
    if match is None:
        raise ConfigError(f"--time {text!r}: not a SLURM time; valid: {_TIME_FORMS}")
    parts = [int(part) for part in match["parts"].split(":")]
    if match["days"] is not None:  # D-HH[:MM[:SS]]
        parts += [0] * (3 - len(parts))
        seconds = int(match["days"]) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
    elif len(parts) == 1:  # MINUTES
        seconds = parts[0] * 60
    elif len(parts) == 2:  # MM:SS
        seconds = parts[0] * 60 + parts[1]
    else:  # HH:MM:SS
        seconds = parts[0] * 3600 + parts[1] * 60 + parts[2]
    if seconds <= 0:
        raise ConfigError(f"--time {text!r}: must be longer than 0")
    return -(-seconds // 60)


# sbatch options the submission sets itself: submitit's files and signal, attnlab's array and name
OWN_SBATCH_OPTIONS = {
    "signal": "--signal-delay",
    "time": "--time",
    "partition": "--partition",
    "array": "--workers or --nodes/--gpus-per-node",
    "output": "nothing (logs go to runs/slurm/)",
    "error": "nothing (logs go to runs/slurm/)",
    "job-name": "nothing (attnlab-STUDY@PROFILE names the study's jobs)",
}


def _slurm_arg(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or key.strip().startswith("-"):
        raise ConfigError(f"--slurm-arg {text!r}: use KEY=VALUE with an sbatch option name, e.g. qos=high")
    name = key.strip().replace("_", "-")
    if name in OWN_SBATCH_OPTIONS:
        raise ConfigError(f"--slurm-arg {text!r}: attnlab sets --{name} itself; use {OWN_SBATCH_OPTIONS[name]}")
    return name, value


@dataclass(frozen=True)
class SlurmOptions:
    """How the workers are submitted: one array task per worker, each with its devices, for ``time_min`` minutes."""

    partition: str | None = None
    nodes: int = 1
    gpus_per_node: int = 0
    cpus_per_worker: int | None = None
    time_min: int = 240
    signal_delay_s: int = DEFAULT_SIGNAL_DELAY_S
    extra: dict[str, str] = field(default_factory=dict)  # more sbatch options, --slurm-arg KEY=VALUE
    wait: bool = False

    def __post_init__(self) -> None:
        for name, value, least in (("--nodes", self.nodes, 1), ("--gpus-per-node", self.gpus_per_node, 0)):
            if value < least:
                raise ConfigError(f"{name}: {value}; use {least} or more")
        if self.cpus_per_worker is not None and self.cpus_per_worker < 1:
            raise ConfigError(f"--cpus-per-worker: {self.cpus_per_worker}; use 1 or more")
        if not 0 < self.signal_delay_s < self.time_min * 60:
            raise ConfigError(
                f"--signal-delay {self.signal_delay_s}: must be between 0 and the time limit ({self.time_min * 60} s)"
            )


def add_slurm_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``--slurm`` and the options of the array it submits."""
    group = parser.add_argument_group("SLURM (submits the workers as one job array through submitit)")
    group.add_argument("--slurm", action="store_true", help="submit the workers to SLURM and print the job id")
    group.add_argument("--partition", help="SLURM partition (default: the cluster's default)")
    group.add_argument("--nodes", type=int, default=1, help="nodes' worth of workers (default 1)")
    group.add_argument(
        "--gpus-per-node",
        type=int,
        default=0,
        help="GPUs per node: nodes x GPUs / --devices-per-trial workers, one array task each (default 0: CPU "
        "workers, --workers of them)",
    )
    group.add_argument("--cpus-per-worker", type=int, help="CPU cores per worker (default: --devices-per-trial)")
    group.add_argument(
        "--time", default=DEFAULT_TIME, help=f"time limit per job ({_TIME_FORMS}; default {DEFAULT_TIME})"
    )
    group.add_argument(
        "--signal-delay",
        type=int,
        default=DEFAULT_SIGNAL_DELAY_S,
        help="seconds before the time limit at which a worker is signalled, marks its cell interrupted and "
        f"requeues itself (default {DEFAULT_SIGNAL_DELAY_S})",
    )
    group.add_argument(
        "--slurm-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other sbatch option, e.g. --slurm-arg qos=high --slurm-arg account=vision (repeatable)",
    )
    group.add_argument("--wait", action="store_true", help="follow the study's progress until it completes")


def slurm_options(args: argparse.Namespace) -> SlurmOptions | None:
    """The submission's options, checked; None without ``--slurm``."""
    if not args.slurm:
        return None
    return SlurmOptions(
        partition=args.partition,
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
        cpus_per_worker=args.cpus_per_worker,
        time_min=time_minutes(args.time),
        signal_delay_s=args.signal_delay,
        extra=dict(_slurm_arg(text) for text in args.slurm_arg),
        wait=args.wait,
    )
