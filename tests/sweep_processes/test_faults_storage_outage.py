"""A PostgreSQL outage (the server stopped and started again by the test) is waited out, up to a bound."""

from __future__ import annotations

import logging
import threading
import time

import optuna
import pytest
from optuna.trial import TrialState, create_trial
from postgres_server import PostgresCluster, stoppable_postgres

from attnlab.sweeps.storage import WaitingRDBStorage, open_storage
from attnlab.sweeps.storage_outages import StorageUnreachable

__all__ = ["stoppable_postgres"]  # the fixture: a server of the test's own, which it stops and restarts
OUTAGE_LOGGER = "attnlab.sweeps.storage_outages"


def test_a_storage_call_during_an_outage_waits_and_says_so_once(
    stoppable_postgres: PostgresCluster, caplog: pytest.LogCaptureFixture
) -> None:
    url = stoppable_postgres.server.url("attnlab")
    storage = open_storage(url, storage_timeout_s=120)
    assert isinstance(storage, WaitingRDBStorage)
    study = optuna.create_study(storage=storage, study_name="s@quick")
    study_id = storage.get_study_id_from_name("s@quick")
    stoppable_postgres.stop()
    restart = threading.Timer(5.0, stoppable_postgres.start)
    restart.start()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=OUTAGE_LOGGER):
        assert storage.get_all_trials(study_id) == []
        trial_id = storage.create_new_trial(study_id, template_trial=create_trial(state=TrialState.RUNNING))
        storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [1.0])
    restart.join()
    assert time.monotonic() - started >= 4.5  # it really waited for the server
    said = [record.getMessage() for record in caplog.records if record.name == OUTAGE_LOGGER]
    assert len(said) == 2, said
    assert said[0].startswith("storage postgresql://attnlab@127.0.0.1:") and "unreachable (" in said[0]
    assert said[0].endswith("waiting up to 120 s (--storage-timeout)")
    assert "reachable again after" in said[1]
    assert [trial.state for trial in study.get_trials()] == [TrialState.COMPLETE]  # exactly one trial


def test_an_outage_past_the_bound_fails_in_one_line_naming_the_storage(stoppable_postgres: PostgresCluster) -> None:
    url = stoppable_postgres.server.url("attnlab")
    storage = open_storage(url, storage_timeout_s=2)
    optuna.create_study(storage=storage, study_name="s@quick")
    stoppable_postgres.stop()
    started = time.monotonic()
    with pytest.raises(StorageUnreachable) as raised:
        storage.get_study_id_from_name("s@quick")
    assert 1.5 <= time.monotonic() - started < 10
    message = str(raised.value)
    assert "\n" not in message and message.startswith("storage postgresql://attnlab@127.0.0.1:")
    assert "unreachable for 2 s (" in message and "--storage-timeout" in message
    again = time.monotonic()
    with pytest.raises(StorageUnreachable):  # the bound counts from the outage's start: no second wait
        storage.get_study_id_from_name("s@quick")
    assert time.monotonic() - again < 1


def test_an_error_about_the_data_is_not_waited_for(stoppable_postgres: PostgresCluster) -> None:
    storage = open_storage(stoppable_postgres.server.url("attnlab"), storage_timeout_s=60)
    started = time.monotonic()
    with pytest.raises(KeyError):
        storage.get_study_id_from_name("no-such-study")
    assert time.monotonic() - started < 5
