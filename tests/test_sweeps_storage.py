"""Storage URLs, the journal's heartbeat, and how dead workers' attempts are declared lost."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from attnlab.errors import ConfigError
from attnlab.sweeps.store import storage as storage_module
from attnlab.sweeps.store.attempts import FAILURE_REASON_ATTR, fail_lost_attempts, keep_alive
from attnlab.sweeps.store.storage import (
    DEFAULT_STORAGE,
    HEARTBEAT_ATTR,
    Heartbeat,
    HeartbeatJournalStorage,
    open_storage,
    optuna_study_name,
)


def test_default_storage_is_a_journal_file_under_runs(in_tmp_dir: Path) -> None:
    storage = open_storage()
    optuna.create_study(storage=storage, study_name="s@quick")
    assert (in_tmp_dir / DEFAULT_STORAGE).is_file()
    assert optuna.get_all_study_names(open_storage(DEFAULT_STORAGE)) == ["s@quick"]


def test_sqlite_url_opens_a_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/deep/er/optuna.db"
    optuna.create_study(storage=open_storage(url), study_name="s@quick")
    assert (tmp_path / "deep/er/optuna.db").is_file()
    assert isinstance(open_storage(url, heartbeat=Heartbeat(1, 3)), optuna.storages.RDBStorage)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.org/optuna", "unknown scheme 'http'"),
        ("redis://localhost", "unknown scheme 'redis'"),
        ("", "empty"),
    ],
)
def test_unusable_urls_are_one_line_errors_naming_the_valid_forms(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        open_storage(url)
    assert "\n" not in str(error.value)
    assert "postgresql://USER:PASSWORD@HOST:PORT/DB" in str(error.value)


def test_an_unreachable_database_fails_at_once_without_showing_the_password() -> None:
    with pytest.raises(ConfigError, match="cannot open") as error:
        open_storage("postgresql://someone:s3cret@127.0.0.1:1/optuna")
    message = str(error.value)
    assert "s3cret" not in message and "127.0.0.1" in message and "\n" not in message


def test_a_directory_or_a_foreign_file_is_not_a_journal(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        open_storage(str(tmp_path))
    foreign = tmp_path / "notes.journal"
    foreign.write_text("these are\nmy notes\n")  # (Optuna skips a bad last line: a write in progress)
    with pytest.raises(ConfigError, match="not an Optuna journal"):
        open_storage(str(foreign))


def test_the_grace_period_must_exceed_the_heartbeat_interval() -> None:
    with pytest.raises(ConfigError, match="--grace-period"):
        Heartbeat(interval_s=10, grace_s=10)
    with pytest.raises(ConfigError, match="--heartbeat-interval"):
        Heartbeat(interval_s=0, grace_s=10)


def test_study_names_carry_the_profile() -> None:
    assert optuna_study_name("cbam-arrangement", "quick") == "cbam-arrangement@quick"
    assert optuna_study_name("tiny", "configs/my-fast.yaml") == "tiny@my-fast"


def _running_trial(storage: optuna.storages.BaseStorage, study: optuna.Study) -> int:
    study_id = storage.get_study_id_from_name(study.study_name)
    return storage.create_new_trial(study_id, template_trial=create_trial(state=TrialState.RUNNING))


def test_journal_heartbeats_find_silent_trials_and_fail_them_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale_calls: list[int] = []
    heartbeat = Heartbeat(1, 3, on_stale=lambda study, trial: stale_calls.append(trial.number))
    storage = open_storage(str(tmp_path / "s.journal"), heartbeat=heartbeat)
    assert isinstance(storage, HeartbeatJournalStorage)
    study = optuna.create_study(storage=storage, study_name="s@quick")
    silent, never_beat = _running_trial(storage, study), _running_trial(storage, study)
    clock = [time.time()]
    monkeypatch.setattr(storage_module.time, "time", lambda: clock[0])
    clock[0] += 2
    storage.record_heartbeat(silent)
    assert storage.get_trial(silent).system_attrs[HEARTBEAT_ATTR] == clock[0]

    clock[0] += 2  # the beat is 2 s old, the other trial started 4 s ago without ever beating
    assert [trial.number for trial in fail_lost_attempts(study, storage, grace_s=3)] == [1]
    clock[0] += 2  # now the beat is 4 s old > 3 s
    other_process = open_storage(str(tmp_path / "s.journal"), heartbeat=heartbeat)
    assert [trial.number for trial in fail_lost_attempts(study, storage, grace_s=3)] == [0]
    assert fail_lost_attempts(study, other_process, grace_s=3) == []  # declared once, by one process
    for trial_id in (silent, never_beat):
        failed = storage.get_trial(trial_id)
        assert failed.state == TrialState.FAIL
        assert failed.user_attrs[FAILURE_REASON_ATTR] == "worker lost: no heartbeat for 3 s"
    assert stale_calls == [1, 0]


def test_keep_alive_beats_while_the_block_runs(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "s.journal"), heartbeat=Heartbeat(1, 3))
    study = optuna.create_study(storage=storage, study_name="s@quick")
    trial_id = _running_trial(storage, study)
    storage.record_heartbeat(trial_id)
    first = storage.get_trial(trial_id).system_attrs[HEARTBEAT_ATTR]
    with keep_alive(storage, trial_id):
        time.sleep(1.3)
    assert storage.get_trial(trial_id).system_attrs[HEARTBEAT_ATTR] > first
