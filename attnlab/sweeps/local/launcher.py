"""Starts a launcher's worker processes, shows the study's progress until they finish, stops them cleanly on Ctrl-C.

Workers are separate processes (``python -m attnlab.sweeps.workers.worker``): each gets its own devices
through its environment before CUDA starts, a crash or a kill takes only one worker down, and a
launcher on another machine starts the same workers against the same storage. Their output goes
to one log file each under ``runs/workers/STUDY@PROFILE/``; the terminal shows one progress bar.

A worker that dies under a living launcher (a signal, an error status) had its running attempt die
with it: the launcher marks that attempt ``died``, a loss charged to its cell
(:mod:`attnlab.sweeps.store.attempts`); losses nobody saw (the launcher killed too) are the machine's.
The progress poll backs off from 1 s to 10 s while nothing changes, so an idle launcher reads the
storage rarely; a worker's end is still seen within a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from attnlab.errors import ConfigError
from attnlab.sweeps.local.placement import Placement
from attnlab.sweeps.runs.environment import STOPPED_STATUS
from attnlab.sweeps.store import ledger
from attnlab.sweeps.store.attempts import fail_attempts_of_dead_worker
from attnlab.sweeps.store.polling import Backoff
from attnlab.sweeps.store.storage import open_storage
from attnlab.sweeps.store.storage_outages import StorageUnreachable
from attnlab.sweeps.workers.worker import INTERRUPTED_STATUS, STOP_MARK, STORAGE_LOST_STATUS, interrupted_once
from attnlab.sweeps.workers.worker_spec import WorkerSpec

WORKER_LOG_ROOT = Path("runs/workers")
POLL_S = 1.0  # the progress poll's first wait, and its wait again whenever something changed
MAX_POLL_S = 10.0  # the longest it waits while nothing changes
WATCH_S = 0.2  # how often the workers' processes are looked at between two polls
WELL_ENDED = (
    0,
    INTERRUPTED_STATUS,
    STOPPED_STATUS,
    STORAGE_LOST_STATUS,
)  # ended by the worker itself, its attempt marked
GRACEFUL_STOP_S = 60.0  # how long interrupted workers get to mark their attempts before being killed
SIGNAL_DELAY_S = 2.0  # workers in the terminal's process group got Ctrl-C themselves: give them a moment first
LOG_TAIL_LINES = 8

_logger = logging.getLogger(__name__)


class WorkerProcess:
    """One started worker and its log file."""

    def __init__(self, spec: WorkerSpec, environment: dict[str, str], log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "attnlab.sweeps.workers.worker", spec.to_json()]
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=os.environ | environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def death(self) -> str | None:
        """How the worker died ("killed by SIGKILL", "exit status 1"); None while it runs or when it ended itself."""
        code = self.process.poll()
        if code is None or code in WELL_ENDED:
            return None
        return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"

    def problem(self) -> str | None:
        """Why the worker ended badly, with the end of its log; None if it ended well (or still runs)."""
        code = self.process.poll()
        if code in (None, 0, INTERRUPTED_STATUS):
            return None
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
        if code in (STOPPED_STATUS, STORAGE_LOST_STATUS):  # its machine or storage stopped it: its one line says why
            said = [line.split(STOP_MARK, 1)[1] for line in lines if STOP_MARK in line]
            cause = (
                "its storage stayed unreachable"
                if code == STORAGE_LOST_STATUS
                else "a full disk, a read-only filesystem or a missing permission"
            )
            return f"worker {self.spec.slot} stopped: " + (said[-1] if said else f"{cause} (see {self.log_path})")
        return f"worker {self.spec.slot} {how}; end of {self.log_path}:\n  " + "\n  ".join(lines)


def _start(base: WorkerSpec, placement: Placement) -> list[WorkerProcess]:
    folder = WORKER_LOG_ROOT / base.study
    host, pid = socket.gethostname(), os.getpid()
    return [
        WorkerProcess(
            dataclasses.replace(base, slot=slot, threads=placement.threads, cpus=placement.cpus_of(slot)),
            placement.environment(slot),
            folder / f"{host}-{pid}-worker{slot}.log",
        )
        for slot in range(placement.workers)
    ]


def _stop(workers: list[WorkerProcess]) -> None:
    """Lets interrupted workers mark their attempts as interrupted, then makes sure none is left."""
    deadline = time.monotonic() + SIGNAL_DELAY_S
    while any(worker.running for worker in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    for worker in workers:
        if worker.running:
            worker.process.send_signal(signal.SIGINT)
    for worker in workers:
        try:
            worker.process.wait(timeout=GRACEFUL_STOP_S)
        except subprocess.TimeoutExpired:
            worker.process.kill()


def progress_bar(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}  running {task.fields[running]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


class DeathRecorder:
    """Marks the running attempts of this launcher's dead workers ``died``, once per worker.

    Opens the storage itself, only when a worker has died: the launcher's own progress reads stay as they are.
    """

    def __init__(self, base: WorkerSpec) -> None:
        self._base = base
        self._seen: set[int] = set()

    def record(self, workers: list[WorkerProcess]) -> bool:
        """Marks the attempts of workers that died since the last call; whether any did."""
        dead = [(worker, how) for worker in workers if worker.process.pid not in self._seen and (how := worker.death())]
        if not dead:
            return False
        self._seen.update(worker.process.pid for worker, _ in dead)
        try:
            storage = open_storage(self._base.storage, storage_timeout_s=self._base.storage_timeout_s)
        except ConfigError as error:  # e.g. the database is down right now: the attempt is a machine's loss
            _logger.warning("cannot mark the attempts of dead workers (%s); they count as lost", error)
            return True
        study_id = storage.get_study_id_from_name(self._base.study)
        for worker, how in dead:
            fail_attempts_of_dead_worker(storage, study_id, f"{socket.gethostname()}:{worker.process.pid}", how)
        return True


def _watch(workers: list[WorkerProcess], seconds: float) -> bool:
    """Waits up to ``seconds``, returning early (True) as soon as a worker ends."""
    running = sum(worker.running for worker in workers)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(WATCH_S, max(0.0, deadline - time.monotonic())))
        if sum(worker.running for worker in workers) != running:
            return True
    return False


def run_workers(
    base: WorkerSpec, placement: Placement, measure: Callable[[], ledger.Progress], console: Console
) -> int:
    """Runs the workers to the end with a progress bar: 0 if all ended well, 130 if interrupted, 1 otherwise.

    A storage unreachable past ``--storage-timeout`` stops the workers and raises :class:`StorageUnreachable`.
    """
    with interrupted_once():
        workers = _start(base, placement)
        deaths = DeathRecorder(base)
        try:
            with progress_bar(console) as bar:
                state = measure()
                task = bar.add_task(base.study, total=state.total, completed=state.finished, failed=0, running=0)
                backoff = Backoff(POLL_S, MAX_POLL_S)
                while any(worker.running for worker in workers):
                    ended = _watch(workers, backoff.next_s)
                    ended = deaths.record(workers) or ended
                    now = measure()
                    if ended or now != state:
                        backoff.reset()
                    else:
                        backoff.lengthen()
                    state = now
                    bar.update(task, completed=state.finished, failed=state.failed, running=state.running)
                deaths.record(workers)
        except KeyboardInterrupt:
            _stop(workers)
            console.print(f"interrupted: run the same command to resume (worker logs: {WORKER_LOG_ROOT / base.study})")
            return INTERRUPTED_STATUS
        except StorageUnreachable:
            _stop(workers)
            raise
    problems = [problem for problem in (worker.problem() for worker in workers) if problem]
    for problem in problems:
        console.print(problem, markup=False, highlight=False, soft_wrap=True)
    return 1 if problems else 0
