"""Exactly-once cells without a coordinator: every decision is derived from the trials in the storage.

Scheme. There is no queue and no enqueue step, so several launchers starting at once cannot enqueue
anything twice. A worker *claims* a cell by creating one Optuna trial that is RUNNING and names the
cell, in a single storage operation (one journal line under the file lock, which is broken only when
its holder is dead or has held it 30 s, a write taking milliseconds; one transaction holding
the study's row lock in a database). Trial numbers therefore give every claim a total order that
all workers see alike. Right after creating its claim, a worker reads the trials and keeps the
claim only if it is the *lowest-numbered live attempt* of the cell (live = running, complete or
failed for good); otherwise it marks its claim ``superseded`` and picks another cell. Two workers
racing for one cell both see both claims and agree on the winner: one trains, never two. A claim
is never kept against an earlier finished attempt, so a finished study trains nothing. A worker
declared lost while still alive (no beat reached the storage for the grace period) finds its trial
already failed when it reports, and drops its result: a cell is recorded once even then.

Reading only what changed. The ledger is kept current from a :class:`~attnlab.sweeps.store.trial_feed.TrialFeed`:
after each read it knows every trial of the study as a full read would show it, having read only the
trials created since and the ones it saw unfinished. That cannot miss a claim: a claim is a RUNNING
trial, and unfinished trials are read again every time; the only trials never read again are
finished ones, and a finished trial never changes (every storage refuses writes to it). A rival
claim numbered below ours was created before ours (numbers are drawn under the study's lock), so
the read that follows our creation sees it, as the full read did. So a claim costs the same at 100
cells and at 20,000; the ledger holds a slim copy of each attempt (its marks and failure reason, not
its record), so a worker's memory does not hold every trial's record either.

Retries. A worker that dies stops beating; any other worker declares its attempt lost (see
:mod:`attnlab.sweeps.store.attempts`) and the cell becomes claimable again. A loss is charged to the cell
only when its launcher saw the worker die while the launcher itself lived (the attempt is marked
``died``); charged losses are retried ``max_retries`` times. A loss nobody saw (the launcher, the
node or the database went with it) is a machine's: free, but capped at ``MAX_MACHINE_LOSSES``, so
a cell that takes its node down every time still ends. An interrupted attempt (Ctrl-C) is void:
the cell is still to do.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState, create_trial

from attnlab.sweeps.store.attempts import (
    CELL_ATTR,
    FAILURE_REASON_ATTR,
    End,
    Standing,
    end_attempt,
    exhausts_retries,
    heartbeat_interval,
    runner_attrs,
    signals_deferred,
    standing,
)
from attnlab.sweeps.store.trial_feed import TrialFeed
from attnlab.sweeps.store.trial_pages import TrialParts

NO_REASON = "no reason recorded"


@dataclass(frozen=True)
class Progress:
    """Cells of a study by state, for the progress bar and the closing summary."""

    total: int
    complete: int
    failed: int
    running: int

    @property
    def finished(self) -> int:
        return self.complete + self.failed


@dataclass(frozen=True)
class _CellState:
    complete: bool = False
    failed: bool = False  # for good: a reported failure, or exhausted retries
    running: bool = False
    exhausted: bool = False
    owner: int | None = None  # the number of the lowest-numbered live attempt, if retries are left
    reason: str | None = None  # a failed cell's last ended attempt's reason

    @property
    def claimable(self) -> bool:
        return not (self.complete or self.failed or self.running)


# What the ledger's rules read of an attempt: its state, value, marks and failure reason (no params, curve or record).
LEDGER_PARTS = TrialParts(user_attrs=(FAILURE_REASON_ATTR,), params=False, intermediate_values=False)


def _slim(trial: FrozenTrial) -> FrozenTrial:
    """The attempt without its record: what the ledger's rules read (state, marks, failure reason)."""
    kept = copy.copy(trial)
    reason = trial.user_attrs.get(FAILURE_REASON_ATTR)
    kept.user_attrs = {FAILURE_REASON_ATTR: reason} if reason is not None else {}
    kept.params, kept.distributions, kept.intermediate_values = {}, {}, {}
    return kept


def _judge(attempts: list[FrozenTrial], max_retries: int) -> _CellState:
    """A cell's state from its attempts in trial-number order."""
    standings = [standing(attempt) for attempt in attempts]
    complete = any(attempt.state == TrialState.COMPLETE for attempt in attempts)
    exhausted = exhausts_retries(attempts, max_retries)
    failed = not complete and (Standing.FINAL in standings or exhausted)
    live = [attempt.number for attempt, held in zip(attempts, standings, strict=True) if held in _LIVE]
    reason = None
    if failed:  # the last attempt that failed for good, else the last lost one
        wanted = Standing.FINAL if Standing.FINAL in standings else Standing.LOST
        ended = [attempt for attempt, held in zip(attempts, standings, strict=True) if held is wanted]
        last = ended[-1]
        reason = last.user_attrs.get(FAILURE_REASON_ATTR) or NO_REASON
    return _CellState(
        complete=complete,
        failed=failed,
        running=Standing.ACTIVE in standings,
        exhausted=exhausted,
        owner=live[0] if live and not exhausted else None,
        reason=reason,
    )


_LIVE = (Standing.ACTIVE, Standing.FINAL)


class Ledger:
    """What the trials say about each cell: finished (complete or failed), running, or to do.

    Built from trials and kept current with :meth:`update` (the new and changed trials only): each
    update judges again only the cells it touches, so counts and the cells to do cost nothing more.
    """

    def __init__(self, cells: Sequence[str], trials: Iterable[FrozenTrial], max_retries: int) -> None:
        self._cells = list(cells)
        self._index = {cell: position for position, cell in enumerate(self._cells)}
        self._max_retries = max_retries
        self._attempts: dict[str, dict[int, FrozenTrial]] = {cell: {} for cell in self._cells}
        self._states = {cell: _CellState() for cell in self._cells}
        self._todo = list(range(len(self._cells)))  # positions of the claimable cells, ascending
        self._counts = {"complete": 0, "failed": 0, "running": 0}
        self.update(trials)

    def update(self, trials: Iterable[FrozenTrial]) -> None:
        """Takes in new attempts and the current state of known ones (a trial seen again replaces its copy)."""
        touched = set()
        for trial in trials:
            cell = trial.system_attrs.get(CELL_ATTR)
            if cell in self._attempts:
                self._attempts[cell][trial.number] = _slim(trial)
                touched.add(cell)
        for cell in touched:
            attempts = [self._attempts[cell][number] for number in sorted(self._attempts[cell])]
            self._restate(cell, _judge(attempts, self._max_retries))

    def _restate(self, cell: str, new: _CellState) -> None:
        old = self._states[cell]
        for name in self._counts:
            self._counts[name] += getattr(new, name) - getattr(old, name)
        if old.claimable != new.claimable:
            position = self._index[cell]
            if new.claimable:
                bisect.insort(self._todo, position)
            else:
                del self._todo[bisect.bisect_left(self._todo, position)]
        self._states[cell] = new

    def is_complete(self, cell: str) -> bool:
        return self._states[cell].complete

    def complete_value(self, cell: str) -> float | None:
        """The objective value of the cell's complete attempt (the last, were there two); None without one."""
        attempts = self._attempts.get(cell, {})
        complete = [attempts[number] for number in sorted(attempts) if attempts[number].state == TrialState.COMPLETE]
        return float(complete[-1].values[0]) if complete else None

    def is_exhausted(self, cell: str) -> bool:
        """Lost more often than retries allow."""
        return self._states[cell].exhausted

    def is_failed(self, cell: str) -> bool:
        """Failed for good: a reported failure, or exhausted retries."""
        return self._states[cell].failed

    def is_running(self, cell: str) -> bool:
        return self._states[cell].running

    def failure(self, cell: str) -> str | None:
        """Why a failed cell failed (its last ended attempt's recorded reason); None unless it failed."""
        return self._states[cell].reason

    def claimable(self) -> list[str]:
        """Cells nobody has finished or is running, in the study's order."""
        return [self._cells[position] for position in self._todo]

    def owns(self, cell: str, number: int) -> bool:
        """Whether trial ``number`` is the cell's lowest-numbered live attempt, with retries left: it may train."""
        return cell in self._states and self._states[cell].owner == number

    def failures(self) -> dict[str, str]:
        """Failed cells and why (their last attempt's recorded reason), in the study's order."""
        return {cell: state.reason or NO_REASON for cell, state in self._states.items() if state.failed}

    @property
    def finished(self) -> bool:
        return self._counts["complete"] + self._counts["failed"] == len(self._cells)

    def progress(self) -> Progress:
        return Progress(total=len(self._cells), **self._counts)


class LiveLedger:
    """A study's ledger kept current by reading only the trials that are new or were unfinished."""

    def __init__(self, storage: BaseStorage, study_id: int, cells: Sequence[str], max_retries: int) -> None:
        self.feed = TrialFeed(storage, study_id, LEDGER_PARTS)
        self.ledger = Ledger(cells, self.feed.changed(), max_retries)

    def current(self) -> Ledger:
        """The ledger after reading what changed since the last look."""
        self.ledger.update(self.feed.changed())
        return self.ledger


def pick(claimable: Sequence[str], offset: int) -> str:
    """The next cell in the study's order, ``offset`` cells on: workers of one launcher start on different cells
    (offset = their slot), and a worker that lost a claim race moves on by one more."""
    return claimable[offset % len(claimable)]


@dataclass(frozen=True)
class Claim:
    """A cell this process may train, and the trial that records it."""

    cell: str
    trial_id: int
    number: int


def claim(live: LiveLedger, cell: str) -> Claim | None:
    """Claims ``cell`` for this process: the claim if it stands, else None (another worker has the cell)."""
    storage, study_id = live.feed.storage, live.feed.study_id
    template = create_trial(state=TrialState.RUNNING, system_attrs={CELL_ATTR: cell, **runner_attrs()})
    with signals_deferred():  # a database never declares lost a trial that never beat: beat before any Ctrl-C
        trial_id = storage.create_new_trial(study_id, template_trial=template)
        if heartbeat_interval(storage) is not None:
            storage.record_heartbeat(trial_id)
    try:
        number = storage.get_trial(trial_id).number
        if live.current().owns(cell, number):
            return Claim(cell, trial_id, number)
    except KeyboardInterrupt:
        end_attempt(storage, trial_id, End.INTERRUPTED)
        raise
    end_attempt(storage, trial_id, End.SUPERSEDED)
    return None
