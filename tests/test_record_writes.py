"""A cell's record is written in one storage operation: one journal append, one database commit."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from attnlab.sweeps.runs.trial_runs import write_record
from attnlab.sweeps.store.records import CellRecord
from attnlab.sweeps.store.storage import open_storage

RECORD = CellRecord(study="s", row="CBAM", seed=3, axes={"model.attention.type": "cbam"}, state="running")


def _study(url: str) -> tuple[optuna.storages.BaseStorage, int]:
    storage = open_storage(url)
    study = optuna.create_study(study_name="s@quick", storage=storage)
    return storage, study.ask()._trial_id


def test_journal_record_is_one_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage, trial_id = _study(str(tmp_path / "s.journal"))
    appends: list[int] = []
    backend = storage._backend
    original = backend.append_logs
    monkeypatch.setattr(backend, "append_logs", lambda logs: (appends.append(len(logs)), original(logs))[1])
    write_record(storage, trial_id, RECORD)
    assert appends == [len(RECORD.to_user_attrs())]
    reread = open_storage(str(tmp_path / "s.journal")).get_trial(trial_id)
    assert CellRecord.from_user_attrs(reread.user_attrs, "running") == RECORD


def test_database_record_is_one_commit(tmp_path: Path) -> None:
    from sqlalchemy import event

    storage, trial_id = _study(f"sqlite:///{tmp_path / 's.db'}")
    commits: list[int] = []
    event.listen(storage.engine, "commit", lambda connection: commits.append(1))
    done = CellRecord(**{**RECORD.__dict__, "state": "complete", "metrics": {"test/top1_err": 6.5}, "params": 12})
    write_record(storage, trial_id, RECORD)
    write_record(storage, trial_id, done, previous=RECORD)
    assert len(commits) == 2
    attrs = open_storage(f"sqlite:///{tmp_path / 's.db'}").get_trial(trial_id).user_attrs
    assert CellRecord.from_user_attrs(attrs, "complete") == done


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_finished_trial_refuses_the_record(tmp_path: Path, kind: str) -> None:
    url = str(tmp_path / "s.journal") if kind == "journal" else f"sqlite:///{tmp_path / 's.db'}"
    storage, trial_id = _study(url)
    storage.set_trial_state_values(trial_id, TrialState.FAIL)
    with pytest.raises(UpdateFinishedTrialError):
        write_record(storage, trial_id, RECORD)
