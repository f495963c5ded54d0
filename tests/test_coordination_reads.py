"""A claim reads a bounded number of trials however large the study: the new and the unfinished ones only."""

from __future__ import annotations

import datetime
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from attnlab.sweeps.store.attempts import CELL_ATTR
from attnlab.sweeps.store.ledger import LiveLedger, claim
from attnlab.sweeps.store.storage import Heartbeat, open_storage

NEW_CELLS = ["new/seed0", "new/seed1"]


def finished_study(url: str, size: int) -> tuple[optuna.Study, list[str]]:
    """A study of ``size`` complete cells, as a long-finished part of a large study leaves them."""
    study = optuna.create_study(study_name="big@quick", storage=open_storage(url))
    cells = [f"row/seed{index}" for index in range(size)]
    study.add_trials(
        [create_trial(state=TrialState.COMPLETE, value=1.0, system_attrs={CELL_ATTR: cell}) for cell in cells]
    )
    return study, cells


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
@pytest.mark.parametrize("size", [20, 400])
def test_claims_read_only_new_and_unfinished_trials(tmp_path: Path, kind: str, size: int) -> None:
    url = str(tmp_path / "s.journal") if kind == "journal" else f"sqlite:///{tmp_path / 's.db'}"
    study, cells = finished_study(url, size)
    storage = open_storage(url)
    live = LiveLedger(storage, study._study_id, cells + NEW_CELLS, max_retries=2)
    assert live.ledger.progress().complete == size  # the first look reads the study once
    read: list[int] = []  # trials handed on by each look after the first
    changed = live.feed.changed

    def counted() -> list[optuna.trial.FrozenTrial]:
        trials = changed()
        read.append(len(trials))
        return trials

    live.feed.changed = counted  # type: ignore[method-assign]
    first = claim(live, NEW_CELLS[0])
    second = claim(live, NEW_CELLS[1])
    assert first is not None and second is not None
    assert live.current().claimable() == []
    # its own claim; then the first claim (still running) and the second; then a poll: the two running claims
    assert read == [1, 2, 2]


def test_the_journal_stale_check_reads_only_new_and_unfinished_trials(tmp_path: Path) -> None:
    url = str(tmp_path / "s.journal")
    study, _ = finished_study(url, 400)
    storage = open_storage(url, heartbeat=Heartbeat(interval_s=1, grace_s=2))
    study.add_trial(create_trial(state=TrialState.COMPLETE, value=1.0))
    running = storage.create_new_trial(study._study_id)  # an attempt that never beat, started a minute ago
    storage._replay_result._trials[running].datetime_start -= datetime.timedelta(seconds=60)
    assert storage._get_stale_trial_ids(study._study_id) == [running]  # the first check reads the study once
    feed = storage._feeds[study._study_id]
    assert feed._unfinished == {running}  # what the next check reads again: one trial of 402
    storage.set_trial_state_values(running, TrialState.FAIL)
    assert storage._get_stale_trial_ids(study._study_id) == []
    assert feed._unfinished == set()
