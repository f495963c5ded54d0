"""Exactly-once cells without a coordinator: every decision is derived from the trials in the storage.

Scheme. There is no queue and no enqueue step, so several launchers starting at once cannot enqueue
anything twice. A worker *claims* a cell by creating one Optuna trial that is RUNNING and names the
cell, in a single storage operation (one journal line under the file lock, which is broken only when
its holder is dead or has held it 30 s, a write taking milliseconds; one transaction holding
the study's row lock in a database). Trial numbers therefore give every claim a total order that
all workers see alike. Right after creating its claim, a worker re-reads the trials and keeps the
claim only if it is the *lowest-numbered live attempt* of the cell (live = running, complete or
failed for good); otherwise it marks its claim ``superseded`` and picks another cell. Two workers
racing for one cell both see both claims and agree on the winner: one trains, never two. A claim
is never kept against an earlier finished attempt, so a finished study trains nothing. A worker
declared lost while still alive (no beat reached the storage for the grace period) finds its trial
already failed when it reports, and drops its result: a cell is recorded once even then.

Retries. A worker that dies stops beating; any other worker declares its attempt lost (see
:mod:`attnlab.sweeps.attempts`) and the cell becomes claimable again. A loss is charged to the cell
only when its launcher saw the worker die while the launcher itself lived (the attempt is marked
``died``); charged losses are retried ``max_retries`` times. A loss nobody saw (the launcher, the
node or the database went with it) is a machine's: free, but capped at ``MAX_MACHINE_LOSSES``, so
a cell that takes its node down every time still ends. An interrupted attempt (Ctrl-C) is void:
the cell is still to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState, create_trial

from attnlab.sweeps.attempts import (
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


class Ledger:
    """What the trials say about each cell: finished (complete or failed), running, or to do."""

    def __init__(self, cells: Sequence[str], trials: Iterable[FrozenTrial], max_retries: int) -> None:
        self._cells = list(cells)
        self._max_retries = max_retries
        self._attempts: dict[str, list[FrozenTrial]] = {cell: [] for cell in self._cells}
        for trial in sorted(trials, key=lambda trial: trial.number):
            cell = trial.system_attrs.get(CELL_ATTR)
            if cell in self._attempts:
                self._attempts[cell].append(trial)

    def _of(self, cell: str, wanted: Standing) -> list[FrozenTrial]:
        return [trial for trial in self._attempts[cell] if standing(trial) is wanted]

    def is_complete(self, cell: str) -> bool:
        return any(trial.state == TrialState.COMPLETE for trial in self._attempts[cell])

    def is_exhausted(self, cell: str) -> bool:
        """Lost more often than retries allow."""
        return exhausts_retries(self._attempts[cell], self._max_retries)

    def is_failed(self, cell: str) -> bool:
        """Failed for good: a reported failure, or exhausted retries."""
        if self.is_complete(cell):
            return False
        return bool(self._of(cell, Standing.FINAL)) or self.is_exhausted(cell)

    def is_running(self, cell: str) -> bool:
        return bool(self._of(cell, Standing.ACTIVE))

    def claimable(self) -> list[str]:
        """Cells nobody has finished or is running, in the study's order."""
        return [
            cell
            for cell in self._cells
            if not (self.is_complete(cell) or self.is_failed(cell) or self.is_running(cell))
        ]

    def owns(self, cell: str, number: int) -> bool:
        """Whether trial ``number`` is the cell's lowest-numbered live attempt, with retries left: it may train."""
        if cell not in self._attempts or self.is_exhausted(cell):
            return False
        live = [attempt for attempt in self._attempts[cell] if standing(attempt) in (Standing.ACTIVE, Standing.FINAL)]
        return bool(live) and live[0].number == number

    def failures(self) -> dict[str, str]:
        """Failed cells and why (their last attempt's recorded reason)."""
        reasons = {}
        for cell in self._cells:
            if self.is_failed(cell):
                ended = self._of(cell, Standing.FINAL) or self._of(cell, Standing.LOST)
                reasons[cell] = ended[-1].user_attrs.get(FAILURE_REASON_ATTR) or "no reason recorded"
        return reasons

    @property
    def finished(self) -> bool:
        return all(self.is_complete(cell) or self.is_failed(cell) for cell in self._cells)

    def progress(self) -> Progress:
        complete = sum(self.is_complete(cell) for cell in self._cells)
        failed = sum(self.is_failed(cell) for cell in self._cells)
        running = sum(self.is_running(cell) for cell in self._cells)
        return Progress(total=len(self._cells), complete=complete, failed=failed, running=running)


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


def claim(storage: BaseStorage, study_id: int, cell: str, cells: Sequence[str], max_retries: int) -> Claim | None:
    """Claims ``cell`` for this process: the claim if it stands, else None (another worker has the cell)."""
    template = create_trial(state=TrialState.RUNNING, system_attrs={CELL_ATTR: cell, **runner_attrs()})
    with signals_deferred():  # a database never declares lost a trial that never beat: beat before any Ctrl-C
        trial_id = storage.create_new_trial(study_id, template_trial=template)
        if heartbeat_interval(storage) is not None:
            storage.record_heartbeat(trial_id)
    try:
        number = storage.get_trial(trial_id).number
        if Ledger(cells, storage.get_all_trials(study_id, deepcopy=False), max_retries).owns(cell, number):
            return Claim(cell, trial_id, number)
    except KeyboardInterrupt:
        end_attempt(storage, trial_id, End.INTERRUPTED)
        raise
    end_attempt(storage, trial_id, End.SUPERSEDED)
    return None
