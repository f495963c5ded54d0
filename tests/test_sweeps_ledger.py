"""The exactly-once rules: which attempt of a cell may train, what is left to do, what a late claim gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState, create_trial

from attnlab.sweeps.store.attempts import CELL_ATTR, END_ATTR, FAILURE_REASON_ATTR, End
from attnlab.sweeps.store.ledger import Ledger, LiveLedger, claim
from attnlab.sweeps.store.storage import Heartbeat, open_storage

CELLS = ["base/seed0", "cbam/seed0"]


def _attempt(
    number: int, cell: str, state: TrialState, end: End | None = None, reason: str | None = None
) -> FrozenTrial:
    system: dict[str, Any] = {CELL_ATTR: cell} | ({END_ATTR: end.value} if end else {})
    user = {FAILURE_REASON_ATTR: reason} if reason else {}
    values = {"value": 1.0} if state == TrialState.COMPLETE else {}
    trial = create_trial(state=state, system_attrs=system, user_attrs=user, **values)
    trial.number = number
    return trial


def test_the_lowest_numbered_live_attempt_owns_the_cell() -> None:
    trials = [
        _attempt(0, "base/seed0", TrialState.FAIL, End.INTERRUPTED),
        _attempt(1, "base/seed0", TrialState.FAIL, End.SUPERSEDED),
        _attempt(2, "base/seed0", TrialState.RUNNING),
        _attempt(3, "base/seed0", TrialState.RUNNING),  # a racing claim
    ]
    ledger = Ledger(CELLS, trials, max_retries=2)
    assert ledger.owns("base/seed0", 2) and not ledger.owns("base/seed0", 3)
    assert ledger.claimable() == ["cbam/seed0"]  # void attempts leave nothing behind; a running cell is taken


def test_finished_cells_are_never_claimed_again() -> None:
    trials = [
        _attempt(0, "base/seed0", TrialState.COMPLETE),
        _attempt(1, "cbam/seed0", TrialState.FAIL, End.FINAL, "diverged: loss is nan"),
        _attempt(2, "base/seed0", TrialState.RUNNING),  # a late claim against a finished cell
    ]
    ledger = Ledger(CELLS, trials, max_retries=2)
    assert ledger.finished and ledger.claimable() == []
    assert not ledger.owns("base/seed0", 2)
    assert ledger.failures() == {"cbam/seed0": "diverged: loss is nan"}
    progress = ledger.progress()
    assert (progress.total, progress.complete, progress.failed, progress.finished) == (2, 1, 1, 2)


def test_attempts_whose_worker_was_seen_to_die_are_retried_up_to_the_limit() -> None:
    died = "worker died: killed by SIGKILL"
    lost = _attempt(0, "base/seed0", TrialState.FAIL, End.DIED, reason=died)
    assert Ledger(["base/seed0"], [lost], max_retries=1).claimable() == ["base/seed0"]  # its one retry
    again = _attempt(1, "base/seed0", TrialState.FAIL, End.DIED, reason=died)
    exhausted = Ledger(["base/seed0"], [lost, again], max_retries=1)
    assert exhausted.claimable() == [] and exhausted.is_failed("base/seed0") and exhausted.finished
    assert not exhausted.owns("base/seed0", 2)
    assert exhausted.failures() == {"base/seed0": died}


def test_losses_nobody_saw_are_the_machines_and_do_not_use_up_retries() -> None:
    unseen = [_attempt(number, "base/seed0", TrialState.FAIL) for number in range(3)]
    assert Ledger(["base/seed0"], unseen, max_retries=1).claimable() == ["base/seed0"]


def test_a_second_claim_of_a_running_cell_is_superseded(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "s.journal"), heartbeat=Heartbeat(1, 3))
    study = optuna.create_study(storage=storage, study_name="s@quick")
    study_id = storage.get_study_id_from_name("s@quick")
    live = LiveLedger(storage, study_id, CELLS, max_retries=2)
    first = claim(live, "base/seed0")
    assert first is not None and first.number == 0
    assert claim(LiveLedger(storage, study_id, CELLS, max_retries=2), "base/seed0") is None
    assert claim(live, "base/seed0") is None  # the ledger that won it sees its own claim running
    loser = study.trials[1]
    assert loser.state == TrialState.FAIL and loser.system_attrs[END_ATTR] == "superseded"
    assert "attnlab.row" not in loser.user_attrs  # invisible to reports
