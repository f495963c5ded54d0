"""Starts a launcher's worker processes, shows the study's progress until they finish, stops them cleanly on Ctrl-C.

Workers are separate processes (``python -m attnlab.sweeps.worker``): each gets its own devices
through its environment before CUDA starts, a crash or a kill takes only one worker down, and a
launcher on another machine starts the same workers against the same storage. Their output goes
to one log file each under ``runs/workers/STUDY@PROFILE/``; the terminal shows one progress bar.
"""

from __future__ import annotations

import dataclasses
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

from attnlab.sweeps import ledger
from attnlab.sweeps.environment import STOPPED_STATUS
from attnlab.sweeps.placement import Placement
from attnlab.sweeps.worker import INTERRUPTED_STATUS, STOP_MARK, interrupted_once
from attnlab.sweeps.worker_spec import WorkerSpec

WORKER_LOG_ROOT = Path("runs/workers")
POLL_S = 1.0
GRACEFUL_STOP_S = 60.0  # how long interrupted workers get to mark their attempts before being killed
SIGNAL_DELAY_S = 2.0  # workers in the terminal's process group got Ctrl-C themselves: give them a moment first
LOG_TAIL_LINES = 8


class WorkerProcess:
    """One started worker and its log file."""

    def __init__(self, spec: WorkerSpec, environment: dict[str, str], log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "attnlab.sweeps.worker", spec.to_json()]
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=os.environ | environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def problem(self) -> str | None:
        """Why the worker ended badly, with the end of its log; None if it ended well (or still runs)."""
        code = self.process.poll()
        if code in (None, 0, INTERRUPTED_STATUS):
            return None
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
        if code == STOPPED_STATUS:  # its machine stopped it: the worker's one line says where and what to do
            said = [line.split(STOP_MARK, 1)[1] for line in lines if STOP_MARK in line]
            return f"worker {self.spec.slot} stopped: " + (
                said[-1]
                if said
                else f"a full disk, a read-only filesystem or a missing permission (see {self.log_path})"
            )
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


def run_workers(
    base: WorkerSpec, placement: Placement, measure: Callable[[], ledger.Progress], console: Console
) -> int:
    """Runs the workers to the end with a progress bar: 0 if all ended well, 130 if interrupted, 1 otherwise."""
    with interrupted_once():
        workers = _start(base, placement)
        try:
            with progress_bar(console) as bar:
                state = measure()
                task = bar.add_task(base.study, total=state.total, completed=state.finished, failed=0, running=0)
                while any(worker.running for worker in workers):
                    time.sleep(POLL_S)
                    state = measure()
                    bar.update(task, completed=state.finished, failed=state.failed, running=state.running)
        except KeyboardInterrupt:
            _stop(workers)
            console.print(f"interrupted: run the same command to resume (worker logs: {WORKER_LOG_ROOT / base.study})")
            return INTERRUPTED_STATUS
    problems = [problem for problem in (worker.problem() for worker in workers) if problem]
    for problem in problems:
        console.print(problem, markup=False, highlight=False, soft_wrap=True)
    return 1 if problems else 0
