"""A DDP trial inside a SLURM allocation: its ranks started by ``srun`` as one job step, as Lightning expects there.

Inside an allocation Lightning picks its ``SLURMEnvironment`` (``SLURM_NTASKS`` is set), which takes
ranks and world size from SLURM and starts no processes itself: started as one plain process it
would find ``--ntasks-per-node=1`` and refuse ``devices=2``. So the worker starts the trial as an
``srun`` step of ``devices`` tasks on its own node, sharing its CPUs and GPUs (``--overlap``); each
rank then gets ``SLURM_PROCID``/``SLURM_LOCALID`` and Lightning's SLURM environment is right, port
and all. Outside SLURM (or in an interactive ``bash`` allocation, which Lightning ignores) nothing
changes: Lightning's own launcher starts the ranks.
"""

from __future__ import annotations

import os
import signal

SLURM_INTERACTIVE_NAMES = ("bash", "interactive")  # job names Lightning treats as "not SLURM"


def in_slurm_allocation() -> bool:
    """Whether Lightning would see SLURM here (its ``SLURMEnvironment.detect()``)."""
    return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in SLURM_INTERACTIVE_NAMES


def rank_launcher(devices: int) -> list[str]:
    """The command prefix that starts ``devices`` ranks of a trial: ``srun …`` in an allocation, else nothing."""
    if not in_slurm_allocation():
        return []
    cpus = max(1, int(os.environ.get("SLURM_CPUS_PER_TASK", devices)) // devices)
    return [
        "srun",
        "--overlap",
        "--nodes=1",
        f"--ntasks={devices}",
        f"--ntasks-per-node={devices}",
        f"--cpus-per-task={cpus}",
        "--kill-on-bad-exit=1",
    ]


def stop_signal() -> signal.Signals:
    """How the worker stops a trial's ranks: SIGTERM through ``srun`` (which forwards it to every rank, where a
    first SIGINT only prints the step's status), SIGINT to Lightning's own launcher, as Ctrl-C."""
    return signal.SIGTERM if in_slurm_allocation() else signal.SIGINT
