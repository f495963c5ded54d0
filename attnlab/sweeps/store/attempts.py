"""One attempt at a cell or search trial = one Optuna trial: how it is marked, judged, kept alive and declared lost.

The marks live in trial *system* attributes, which reports never read; the cell's results live in
the :class:`~attnlab.sweeps.store.records.CellRecord` user attributes. An attempt ends in one of five ways:

- COMPLETE (or PRUNED in a search): it trained;
- FAIL marked ``final``: it trained and failed for a reason worth reporting (diverged, bad config);
- FAIL marked ``interrupted`` (Ctrl-C, SIGTERM, the machine or the storage stopped it) or
  ``superseded`` (it lost a claim race): void, the cell is simply still to do;
- FAIL marked ``died``: its launcher saw its worker die under it (killed by a signal, or exited with
  an error status) while the launcher itself lived: a *charged* loss;
- FAIL without a mark: its worker stopped beating and another process declared it *lost* after the
  grace period. Nobody saw it die: the launcher, the machine or the storage went with it. That is a
  *machine* loss.

Retries (:func:`exhausts_retries`). A loss is charged to the cell only when it was seen to be the
cell's own: its worker died while the launcher that started it lived, which a machine fault cannot
explain (a launcher killed with its workers, a node gone, a database down all leave unmarked
losses). Charged losses are retried ``max_retries`` times. Machine losses are not charged, so
killing a launcher or losing a node never fails a cell, but they are capped at
:data:`MAX_MACHINE_LOSSES`, so a cell that takes its whole node down every time still ends. Studies
stored before the ``died`` mark existed hold only unmarked losses: they count as machine losses.
"""

from __future__ import annotations

import _thread
import contextlib
import enum
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._heartbeat import BaseHeartbeat  # Optuna's heartbeat interface (not re-exported)
from optuna.trial import FrozenTrial, TrialState

from attnlab.sweeps.store.experimental import experimental_allowed
from attnlab.sweeps.store.records import ATTR_PREFIX
from attnlab.sweeps.store.storage_outages import StorageUnreachable

_logger = logging.getLogger(__name__)

CELL_ATTR = "attnlab.cell"  # the cell an attempt claims, "ROW/seedN"
WORKER_ATTR = "attnlab.worker"  # who runs it, "HOST:PID": which process to look at (or kill)
SLURM_JOB_ATTR = "attnlab.slurm_job"  # the SLURM job running the worker ("ARRAY_TASK" for an array task), if any
END_ATTR = "attnlab.end"  # how a failed attempt ended (an End), written just before the FAIL state
FAILURE_REASON_ATTR = f"{ATTR_PREFIX}failure_reason"
INTERRUPTED_REASON = "interrupted (Ctrl-C or SIGTERM) before it finished; running the command again trains it"
MAX_MACHINE_LOSSES = 10  # unmarked losses (nobody saw the worker die) a cell may have before it fails anyway


class End(enum.StrEnum):
    """Why an attempt was failed on purpose (a FAIL without one is a lost attempt)."""

    FINAL = "final"
    INTERRUPTED = "interrupted"
    SUPERSEDED = "superseded"
    DIED = "died"  # its launcher saw its worker die: a loss charged to the cell


class Standing(enum.Enum):
    """What an attempt means for its cell."""

    ACTIVE = "active"  # running (or queued to run)
    FINAL = "final"  # finished for good: complete, pruned or failed with a reason
    LOST = "lost"  # its worker died (seen, or silent for the grace period): retried up to a limit
    VOID = "void"  # interrupted or superseded: as if it had never been


def standing(trial: FrozenTrial) -> Standing:
    """How the attempt stands, from its state and its end mark."""
    if trial.state in (TrialState.RUNNING, TrialState.WAITING):
        return Standing.ACTIVE
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return Standing.FINAL
    end = trial.system_attrs.get(END_ATTR)
    if end is None or end == End.DIED:
        return Standing.LOST
    return Standing.FINAL if end == End.FINAL else Standing.VOID


def exhausts_retries(attempts: Sequence[FrozenTrial], max_retries: int) -> bool:
    """Whether a cell's attempts have used up its retries: its worker was seen to die more than ``max_retries``
    times, or it was lost unseen (a machine's loss) more than :data:`MAX_MACHINE_LOSSES` times."""
    lost = [attempt for attempt in attempts if standing(attempt) is Standing.LOST]
    charged = sum(attempt.system_attrs.get(END_ATTR) == End.DIED for attempt in lost)
    return charged > max_retries or len(lost) - charged > MAX_MACHINE_LOSSES


def worker_identity() -> str:
    """``HOST:PID`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def runner_attrs() -> dict[str, str]:
    """Who runs an attempt, as it records it: this process, and its SLURM job ("ARRAY_TASK") when it has one."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    job = f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")
    return {WORKER_ATTR: worker_identity()} | ({SLURM_JOB_ATTR: job} if job else {})


def mark_end(storage: BaseStorage, trial_id: int, end: End, reason: str = INTERRUPTED_REASON) -> None:
    """Says how an attempt ends, just before it is failed (an interrupted or dead one also says why in its record)."""
    storage.set_trial_system_attr(trial_id, END_ATTR, end.value)
    if end in (End.INTERRUPTED, End.DIED):
        storage.set_trial_user_attr(trial_id, FAILURE_REASON_ATTR, reason)


def end_attempt(storage: BaseStorage, trial_id: int, end: End, reason: str = INTERRUPTED_REASON) -> None:
    """Marks and fails an attempt; a no-op when it already ended (e.g. it was declared lost meanwhile)."""
    with contextlib.suppress(UpdateFinishedTrialError):
        mark_end(storage, trial_id, end, reason)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)


def fail_attempts_of_dead_worker(storage: BaseStorage, study_id: int, worker: str, how: str) -> list[int]:
    """Fails the running attempts of the worker ``HOST:PID`` that its launcher saw die (``how``: "killed by
    SIGKILL", "exit status 1"), marked ``died``: losses charged to their cells. Returns their trial ids."""
    dead = [
        trial._trial_id
        for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        if trial.system_attrs.get(WORKER_ATTR) == worker
    ]
    for trial_id in dead:
        end_attempt(storage, trial_id, End.DIED, f"worker died: {how}")
    return dead


def fail_lost_attempts(study: optuna.Study, storage: BaseStorage, grace_s: int) -> list[FrozenTrial]:
    """Fails the running attempts whose worker stopped beating, saying so in their record.

    Optuna's ``fail_stale_trials`` does the same without a reason; this writes the reason while the
    trial can still be written, then lets exactly one process (the one whose FAIL lands) run the
    storage's stale-trial callback (e.g. a search's retry).
    """
    if heartbeat_interval(storage) is None:
        return []
    lost = []
    for trial_id in storage._get_stale_trial_ids(storage.get_study_id_from_name(study.study_name)):
        try:
            storage.set_trial_user_attr(trial_id, FAILURE_REASON_ATTR, f"worker lost: no heartbeat for {grace_s} s")
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:
            continue  # another process declared it first
        lost.append(storage.get_trial(trial_id))
    callback = storage.get_heartbeat_stale_trial_callback()
    if callback is not None:
        for trial in lost:
            callback(study, trial)
    return lost


def retry_lost_search_trials(max_retries: int) -> Callable[[optuna.Study, FrozenTrial], None]:
    """A stale-trial callback re-queueing a lost *search* trial with its parameters, at most ``max_retries`` times.

    Lost *cells* need nothing: the ledger sees the cell has no live attempt and a worker claims it.
    """
    with experimental_allowed():
        retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retries)

    def on_stale(study: optuna.Study, trial: FrozenTrial) -> None:
        if CELL_ATTR not in trial.system_attrs:
            retry(study, trial)

    return on_stale


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Holds Ctrl-C, SIGTERM and SLURM's time-limit warning (USR2) back until the block is done (e.g. between
    creating a trial and its first beat)."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGUSR2}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def heartbeat_interval(storage: BaseStorage) -> int | None:
    """Seconds between beats, or None when the storage was opened without heartbeats."""
    return storage.get_heartbeat_interval() if isinstance(storage, BaseHeartbeat) else None


@contextlib.contextmanager
def keep_alive(storage: BaseStorage, trial_id: int) -> Iterator[None]:
    """Beats for ``trial_id`` every interval from a background thread while the block runs.

    A beat waits out a storage outage (:mod:`attnlab.sweeps.store.storage_outages`); one still failing past
    ``--storage-timeout`` stops the training: the main thread gets Ctrl-C (SIGINT), so the cell ends as
    interrupted (or, with the storage gone, as a machine's loss once it is back), never as its fault.
    """
    interval = heartbeat_interval(storage)
    if interval is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                storage.record_heartbeat(trial_id)
            except StorageUnreachable as error:
                _logger.error("heartbeat of trial %d: %s; stopping the training", trial_id, error)
                _thread.interrupt_main(signal.SIGINT)
                return
            except Exception as error:  # a storage hiccup must not silence the beat for good
                _logger.warning("heartbeat of trial %d failed (%s); retrying", trial_id, error)

    thread = threading.Thread(target=beat, name=f"attnlab-heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
