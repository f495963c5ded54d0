"""A PostgreSQL outage (the server stopped and started again by the test) is waited out, up to a bound."""

from __future__ import annotations

import logging
import threading
import time

import optuna
import pytest
from optuna.trial import TrialState, create_trial
from postgres_server import PostgresCluster, stoppable_postgres
from sweep_helpers import Tiny, completions, training_under, wait_for

from attnlab.sweeps.store.attempts import CELL_ATTR
from attnlab.sweeps.store.storage import WaitingRDBStorage, open_storage
from attnlab.sweeps.store.storage_outages import StorageUnreachable

__all__ = ["stoppable_postgres"]  # the fixture: a server of the test's own, which it stops and restarts
OUTAGE_LOGGER = "attnlab.sweeps.store.storage_outages"
STUDY = "tiny@tiny-profile"
FAST_HEARTBEAT = ["--heartbeat-interval", "1", "--grace-period", "4"]
OUTAGE_S = 10  # longer than the grace period: beats that cannot land must not get a live cell declared lost


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


def _launcher_output(tiny: Tiny) -> str:
    [log] = tiny.folder.glob("launcher-*.log")
    return log.read_text()


def _worker_logs(tiny: Tiny) -> str:
    return "".join(log.read_text() for log in (tiny.folder / "runs" / "workers").glob("**/*.log"))


def _no_storage_crash(logs: str) -> bool:
    """No storage error escaped a worker (the outage's own two lines aside)."""
    return not any(error in logs for error in ("OperationalError", "StorageInternalError", "invalid data in the"))


@pytest.mark.slow
def test_a_study_waits_out_a_database_restart_and_trains_every_cell_once(
    tiny: Tiny, stoppable_postgres: PostgresCluster, background: list
) -> None:
    url = stoppable_postgres.server.url("attnlab")
    study = tiny.study({"plain": {"model.attention.type": "none"}, "cbam": {}}, seeds=[0, 1])
    command = ["ablate", str(study), "--profile", str(tiny.profile), "--storage", url, "--workers", "2"]
    launcher = tiny.start(*command, *FAST_HEARTBEAT)
    background.append(launcher)

    def one_done_one_training() -> bool:
        trials = tiny.trials(STUDY, url)
        return bool(completions(trials)) and training_under(trials, launcher) is not None

    wait_for(one_done_one_training, 180, "a cell complete and another training")
    stoppable_postgres.stop()
    time.sleep(OUTAGE_S)
    stoppable_postgres.start()
    assert launcher.wait(timeout=300) == 0, _launcher_output(tiny)

    trials = tiny.trials(STUDY, url)
    assert completions(trials) == {f"{row}/seed{seed}": 1 for row in ("plain", "cbam") for seed in (0, 1)}
    assert not [trial for trial in trials if trial.state == TrialState.RUNNING]
    said = _launcher_output(tiny)
    assert "Traceback" not in said and _no_storage_crash(_worker_logs(tiny))
    [down] = [line for line in said.splitlines() if "unreachable" in line]
    assert down.startswith(f"storage {url} unreachable (") and down.endswith("waiting up to 600 s (--storage-timeout)")
    assert len([line for line in said.splitlines() if "reachable again after" in line]) == 1
    assert f"{STUDY}: 4/4 cells finished, 4 complete, 0 failed" in said


@pytest.mark.slow
def test_an_outage_past_storage_timeout_stops_the_study_in_one_line_and_a_rerun_trains_what_is_left(
    tiny: Tiny, stoppable_postgres: PostgresCluster, background: list
) -> None:
    url = stoppable_postgres.server.url("attnlab")
    study = tiny.study({"plain": {"model.attention.type": "none"}, "cbam": {}}, seeds=[0])
    command = ["ablate", str(study), "--profile", str(tiny.profile), "--storage", url, "--workers", "1"]
    launcher = tiny.start(*command, *FAST_HEARTBEAT, "--storage-timeout", "5")
    background.append(launcher)
    wait_for(lambda: training_under(tiny.trials(STUDY, url), launcher), 180, "a cell training")
    stoppable_postgres.stop()
    assert launcher.wait(timeout=120) == 2
    said = _launcher_output(tiny).strip().splitlines()
    assert said[-1].startswith(f"attnlab ablate: error: storage {url} unreachable for 5 s (")
    assert "Traceback" not in "\n".join(said) and _no_storage_crash(_worker_logs(tiny))
    assert f"worker stopped: storage {url} unreachable for 5 s" in _worker_logs(tiny)

    stoppable_postgres.start()
    before = {trial.system_attrs[CELL_ATTR]: trial.number for trial in tiny.trials(STUDY, url) if trial.value}
    rerun = tiny.run(*command, *FAST_HEARTBEAT)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    trials = tiny.trials(STUDY, url)
    assert completions(trials) == {"plain/seed0": 1, "cbam/seed0": 1}
    after = {trial.system_attrs[CELL_ATTR]: trial.number for trial in trials if trial.state == TrialState.COMPLETE}
    assert all(after[cell] == number for cell, number in before.items())  # what had finished was not trained again
