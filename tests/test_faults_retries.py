"""A machine's loss is not the cell's: only a worker seen to die under a living launcher uses up retries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState, create_trial

from attnlab.sweeps.store.attempts import (
    CELL_ATTR,
    END_ATTR,
    FAILURE_REASON_ATTR,
    MAX_MACHINE_LOSSES,
    WORKER_ATTR,
    End,
    Standing,
    exhausts_retries,
    fail_attempts_of_dead_worker,
    standing,
)
from attnlab.sweeps.store.storage import open_storage


def _lost(number: int, end: End | None = None) -> FrozenTrial:
    system: dict[str, Any] = {CELL_ATTR: "base/seed0"} | ({END_ATTR: end.value} if end else {})
    trial = create_trial(state=TrialState.FAIL, system_attrs=system)
    trial.number = number
    return trial


def test_only_deaths_seen_by_a_living_launcher_use_up_retries() -> None:
    died = [_lost(number, End.DIED) for number in range(3)]
    assert all(standing(attempt) is Standing.LOST for attempt in died)
    assert not exhausts_retries(died[:2], max_retries=2)
    assert exhausts_retries(died, max_retries=2)  # the third death with two retries


def test_unseen_losses_are_free_up_to_the_cap() -> None:
    machine = [_lost(number) for number in range(MAX_MACHINE_LOSSES)]
    assert not exhausts_retries(machine, max_retries=0)  # four launcher kills, or ten, fail nothing
    assert exhausts_retries([*machine, _lost(MAX_MACHINE_LOSSES)], max_retries=0)  # a cell that takes its node down
    mixed = [*machine, _lost(MAX_MACHINE_LOSSES, End.DIED)]
    assert not exhausts_retries(mixed, max_retries=1) and exhausts_retries(mixed, max_retries=0)


def test_the_launcher_marks_only_its_dead_workers_running_attempt(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "s.journal"))
    study = optuna.create_study(storage=storage, study_name="s@quick")
    study_id = storage.get_study_id_from_name("s@quick")
    for cell, worker, state in [
        ("base/seed0", "host:11", TrialState.COMPLETE),  # the dead worker's finished cell stays as it is
        ("cbam/seed0", "host:11", TrialState.RUNNING),
        ("eca/seed0", "host:12", TrialState.RUNNING),  # a sibling that lives
    ]:
        template = create_trial(state=state, system_attrs={CELL_ATTR: cell, WORKER_ATTR: worker}, value=1.0)
        storage.create_new_trial(study_id, template_trial=template)
    [dead] = fail_attempts_of_dead_worker(storage, study_id, "host:11", "killed by SIGKILL")
    trials = {trial.system_attrs[CELL_ATTR]: trial for trial in study.get_trials()}
    assert dead == trials["cbam/seed0"]._trial_id
    assert trials["cbam/seed0"].state == TrialState.FAIL and trials["cbam/seed0"].system_attrs[END_ATTR] == "died"
    assert trials["cbam/seed0"].user_attrs[FAILURE_REASON_ATTR] == "worker died: killed by SIGKILL"
    assert trials["base/seed0"].state == TrialState.COMPLETE and trials["eca/seed0"].state == TrialState.RUNNING
