"""``python -m attnlab.sweeps.workers.worker SPEC``: one worker process, started (and pinned) by a launcher.

It reads its job from the study's stored settings and works until nothing is left: a study's
cells (:mod:`~attnlab.sweeps.workers.cell_worker`) or a search's trials (:mod:`~attnlab.sweeps.workers.search_worker`).
SIGTERM (a scheduler's preemption) is handled like Ctrl-C: the running attempt is marked
interrupted, so the cell or trial is simply still to do. A storage unreachable past
``--storage-timeout`` stops the worker with :data:`STORAGE_LOST_STATUS` and one line; its attempt,
which could not be marked, is declared lost once the storage is back, a loss not charged to the cell.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

from attnlab.sweeps.runs.environment import STOPPED_STATUS, as_environment_stop
from attnlab.sweeps.store.storage_outages import StorageUnreachable
from attnlab.sweeps.workers.worker_spec import WorkerContext, WorkerSpec

INTERRUPTED_STATUS = 130
STORAGE_LOST_STATUS = 69  # EX_UNAVAILABLE: the storage stayed unreachable past --storage-timeout
STOP_MARK = "worker stopped: "  # the line the launcher shows when the machine or the storage stopped a worker


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_stopping = threading.Event()  # a stop's clean-up is under way: Lightning's teardown re-installs _interrupt, which
# must not fire again
_requested = threading.Event()  # a stop signal came: set even when its KeyboardInterrupt was swallowed


def stop_under_way() -> None:
    """From now on stop signals are ignored: the clean-up of a stop (marking attempts interrupted, SLURM's
    time-limit requeue) must not be cut short by the signals that follow. The clean-up calls it first."""
    _stopping.set()
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)


def stop_requested() -> bool:
    """A stop signal came. Its KeyboardInterrupt may never have reached the loop: a signal handler can run
    inside a finalizer, where Python prints the exception and goes on. The loops check this between cells."""
    return _requested.is_set()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if _stopping.is_set():
        return
    _requested.set()  # a later signal raises again until a clean-up has begun (the first one may be swallowed)
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def interrupted_once() -> Iterator[None]:
    """Ctrl-C or SIGTERM (a scheduler's preemption) raises KeyboardInterrupt until a clean-up begins
    (:func:`stop_under_way`); later ones are ignored, so the clean-up is never cut short."""
    _stopping.clear()
    _requested.clear()
    previous = {stop: signal.signal(stop, _interrupt) for stop in STOP_SIGNALS}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)


def _log_progress() -> None:
    """attnlab's own messages (cell claimed, finished, failed) into the worker's log, with times."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("attnlab")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main(argv: list[str]) -> int:
    spec = WorkerSpec.from_json(argv[0])
    _log_progress()
    if spec.cpus:
        os.sched_setaffinity(0, spec.cpus)  # its own cores: sibling workers never share one
    if spec.threads is not None:
        import torch

        torch.set_num_threads(spec.threads)
    try:
        with interrupted_once():
            context = WorkerContext.open(spec)
            if context.settings["kind"] == "cells":
                from attnlab.sweeps.workers.cell_worker import run_cells

                run_cells(context)
            else:
                from attnlab.sweeps.workers.search_worker import run_search

                run_search(context)
    except KeyboardInterrupt:
        stop_under_way()
        logging.getLogger(__name__).warning("interrupted: the running attempt is left to do")
        return INTERRUPTED_STATUS
    except StorageUnreachable as error:
        logging.getLogger(__name__).error("%s%s", STOP_MARK, error)
        return STORAGE_LOST_STATUS
    except Exception as error:
        stop = as_environment_stop(error)
        if stop is None:
            raise
        logging.getLogger(__name__).error("%s%s", STOP_MARK, stop)
        return STOPPED_STATUS
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
