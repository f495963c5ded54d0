"""A study against a real PostgreSQL server works as on the default journal file (the multi-machine set-up)."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.trial import TrialState, create_trial
from sweep_helpers import Tiny, metrics_files

from attnlab.sweeps.store.attempts import FAILURE_REASON_ATTR, fail_lost_attempts
from attnlab.sweeps.store.storage import Heartbeat, open_storage

STUDY = "tiny@tiny-profile"


@pytest.mark.slow
def test_two_workers_share_a_study_on_postgresql_and_a_rerun_trains_nothing(tiny: Tiny, postgres_url: str) -> None:
    study = tiny.study({"plain": {"model.attention.type": "none"}, "cbam": {}}, seeds=[0])
    command = ["ablate", str(study), "--profile", str(tiny.profile), "--storage", postgres_url, "--workers", "2"]
    done = tiny.run(*command)
    assert done.returncode == 0, done.stdout + done.stderr

    trials = tiny.trials(STUDY, postgres_url)
    complete = [trial for trial in trials if trial.state == TrialState.COMPLETE]
    assert sorted(trial.user_attrs["attnlab.row"] for trial in complete) == ["cbam", "plain"]
    assert all(trial.value == trial.user_attrs["attnlab.metrics"]["test/top1_err"] for trial in complete)
    assert len(metrics_files(tiny.folder, STUDY)) == 2
    assert not (tiny.folder / "runs" / "attnlab.journal").exists()  # nothing went to the default storage

    again = tiny.run(*command)
    assert again.returncode == 0 and "nothing to train" in again.stdout
    assert len(tiny.trials(STUDY, postgres_url)) == len(trials)


def test_database_heartbeats_declare_a_silent_trial_lost(postgres_url: str) -> None:
    storage = open_storage(postgres_url, heartbeat=Heartbeat(interval_s=1, grace_s=2))
    study = optuna.create_study(storage=storage, study_name="s@quick")
    study_id = storage.get_study_id_from_name("s@quick")
    trial_id = storage.create_new_trial(study_id, template_trial=create_trial(state=TrialState.RUNNING))
    storage.record_heartbeat(trial_id)
    assert fail_lost_attempts(study, storage, grace_s=2) == []
    time.sleep(3)
    (lost,) = fail_lost_attempts(study, storage, grace_s=2)
    assert lost.state == TrialState.FAIL and lost.user_attrs[FAILURE_REASON_ATTR].startswith("worker lost")
