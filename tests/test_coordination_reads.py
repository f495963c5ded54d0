"""A claim reads a bounded number of trials however large the study: the new and the unfinished ones only."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.distributions import IntDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from attnlab.sweeps.store.attempts import CELL_ATTR
from attnlab.sweeps.store.ledger import LEDGER_PARTS, LiveLedger, claim
from attnlab.sweeps.store.storage import Heartbeat, open_storage
from attnlab.sweeps.store.trial_feed import TrialFeed
from attnlab.sweeps.store.trial_pages import WHOLE_TRIALS, TrialParts

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

    def counted() -> Iterator[optuna.trial.FrozenTrial]:
        trials = list(changed())
        read.append(len(trials))
        return iter(trials)

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


def recorded_trial(index: int) -> FrozenTrial:
    """A finished cell as a worker leaves it: params, a curve, a bulky record and a failure reason."""
    return create_trial(
        state=TrialState.COMPLETE,
        value=float(index),
        params={"seed": index},
        distributions={"seed": IntDistribution(0, 100)},
        user_attrs={"attnlab.record": "x" * 1000, "attnlab.failure_reason": f"reason {index}"},
        intermediate_values={0: 1.0, 1: 0.5},
        system_attrs={CELL_ATTR: f"row/seed{index}"},
    )


@pytest.mark.parametrize("parts", [WHOLE_TRIALS, LEDGER_PARTS])
def test_a_database_look_reads_pages_of_trials_by_id_and_only_what_its_reader_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: TrialParts
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="big@quick", storage=open_storage(url))
    study.add_trials([recorded_trial(index) for index in range(10)])
    page_sizes: list[int] = []
    page = TrialFeed._page

    def counted(self: TrialFeed, *args: object, **kwargs: object) -> list[FrozenTrial]:
        trials = page(self, *args, **kwargs)  # type: ignore[arg-type]
        page_sizes.append(len(trials))
        return trials

    monkeypatch.setattr(TrialFeed, "_page", counted)
    feed = TrialFeed(open_storage(url), study._study_id, parts, page_trials=4)
    trials = list(feed.changed())
    assert page_sizes == [4, 4, 2]  # never more than a page of rows at once
    assert [trial.number for trial in trials] == list(range(10))
    assert [trial.value for trial in trials] == [float(index) for index in range(10)]
    assert [trial.system_attrs[CELL_ATTR] for trial in trials] == [f"row/seed{index}" for index in range(10)]
    assert trials[3].user_attrs["attnlab.failure_reason"] == "reason 3"
    if parts == WHOLE_TRIALS:  # whole trials, as Optuna's own reads give them
        assert trials[3] == study.trials[3]
    else:  # no params, no curve, no record
        assert {(len(trial.params), len(trial.intermediate_values), len(trial.user_attrs)) for trial in trials} == {
            (0, 0, 1)
        }
    page_sizes.clear()
    study.add_trial(recorded_trial(10))
    assert [trial.number for trial in feed.changed()] == [10]  # the next look: only what is new
    assert page_sizes == [1]
