"""``attnlab ablate`` with real worker processes: each cell trained once, failures recorded, deaths survived."""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest
from optuna.trial import FrozenTrial, TrialState
from sweep_helpers import DIVERGING, Tiny, metrics_files, training_under, wait_for, worker_pid

from attnlab.cli.main import main
from attnlab.sweeps.store.attempts import CELL_ATTR, END_ATTR
from attnlab.sweeps.store.records import CellRecord

STUDY = "tiny@tiny-profile"
FAST_HEARTBEAT = ["--heartbeat-interval", "1", "--grace-period", "4"]


def _cells(trials: list[FrozenTrial], state: TrialState) -> list[str]:
    return sorted(trial.system_attrs[CELL_ATTR] for trial in trials if trial.state == state)


def test_two_workers_train_every_cell_once_and_a_rerun_trains_nothing(
    tiny: Tiny, capsys: pytest.CaptureFixture[str]
) -> None:
    study = tiny.study({"plain": {"model.attention.type": "none"}, "cbam": {}, "nan": DIVERGING}, seeds=[0, 1])
    command = ["ablate", str(study), "--profile", str(tiny.profile)]
    done = tiny.run(*command, "--workers", "2")
    assert done.returncode == 0, done.stdout + done.stderr

    trials = tiny.trials(STUDY)
    assert _cells(trials, TrialState.COMPLETE) == ["cbam/seed0", "cbam/seed1", "plain/seed0", "plain/seed1"]
    failed = [trial for trial in trials if trial.system_attrs.get(END_ATTR) == "final"]
    assert sorted(trial.system_attrs[CELL_ATTR] for trial in failed) == ["nan/seed0", "nan/seed1"]
    assert all(
        trial.system_attrs[END_ATTR] == "superseded"
        for trial in trials
        if trial not in failed and trial.state == TrialState.FAIL
    )
    assert len({worker_pid(trial) for trial in trials}) == 2  # both workers trained

    records = [
        CellRecord.from_user_attrs(t.user_attrs, t.state.name.lower()) for t in trials if "attnlab.row" in t.user_attrs
    ]
    assert len(records) == 6  # one per cell: claim races leave no record behind
    for record in records:
        assert record.config["seed_everything"] == record.seed
        if record.row == "nan":
            assert record.failure_reason.startswith("diverged: training loss is nan")
            continue
        assert record.config["model"]["attention"]["type"] == {"plain": "none", "cbam": "cbam"}[record.row]
        assert record.axes == {"plain": {"model.attention.type": "none"}, "cbam": {}}[record.row]
        assert 0 <= record.metrics["test/top1_err"] <= 100
        assert record.params > 0 and record.macs > 0 and record.train_images_per_s > 0
        assert record.peak_memory_mb > 0 and record.wall_time_s > 0 and record.failure_reason is None
    assert len(metrics_files(tiny.folder, STUDY)) == 6  # six trainings, one per cell
    assert "failed nan/seed0: diverged" in done.stdout

    again = tiny.run(*command, "--workers", "2")
    assert again.returncode == 0 and "nothing to train" in again.stdout
    assert len(tiny.trials(STUDY)) == len(trials) and len(metrics_files(tiny.folder, STUDY)) == 6

    assert main([*command, "--set", "trainer.max_epochs=2"]) == 2  # in this process: it fails before any work
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    assert "created with other settings (--set (none) then, --set trainer.max_epochs=2 now)" in error


@pytest.mark.slow
def test_a_lost_machine_leaves_no_cell_undone_and_trains_no_finished_cell_again(tiny: Tiny, background: list) -> None:
    study = tiny.study({"plain": {"model.attention.type": "none"}, "cbam": {}}, seeds=[0, 1])
    command = ["ablate", str(study), "--profile", str(tiny.profile), "--workers", "1", *FAST_HEARTBEAT]
    machine_a = tiny.start(*command)
    background.append(machine_a)

    def a_training() -> FrozenTrial | None:
        return training_under(tiny.trials(STUDY), machine_a)

    machine_b = tiny.start(*command)
    background.append(machine_b)
    victim = wait_for(a_training, 120, "a cell training on machine A")
    finished_before = _cells(tiny.trials(STUDY), TrialState.COMPLETE)
    os.killpg(machine_a.pid, signal.SIGKILL)  # the machine is lost: launcher and worker at once
    assert machine_b.wait(timeout=240) == 0

    trials = tiny.trials(STUDY)
    cells = [f"{row}/seed{seed}" for row in ("cbam", "plain") for seed in (0, 1)]
    assert _cells(trials, TrialState.COMPLETE) == sorted(cells)  # every cell once, including the lost one
    lost = next(trial for trial in trials if trial.number == victim.number)
    assert lost.state == TrialState.FAIL and END_ATTR not in lost.system_attrs
    assert lost.user_attrs["attnlab.failure_reason"] == "worker lost: no heartbeat for 4 s"
    attempts = Counter(trial.system_attrs[CELL_ATTR] for trial in trials if END_ATTR not in trial.system_attrs)
    assert all(attempts[cell] == 1 for cell in finished_before)  # nothing that had finished was trained again
    assert attempts[victim.system_attrs[CELL_ATTR]] == 2  # the lost attempt and its retry


@pytest.mark.slow
def test_ctrl_c_marks_the_running_cell_interrupted_and_a_rerun_trains_only_what_is_left(
    tiny: Tiny, background: list
) -> None:
    study = tiny.study({"plain": {"model.attention.type": "none"}, "cbam": {}}, seeds=[0, 1])
    command = ["ablate", str(study), "--profile", str(tiny.profile), "--workers", "1"]
    launcher = tiny.start(*command)
    background.append(launcher)

    def one_done_one_running() -> bool:
        trials = tiny.trials(STUDY)
        states = [trial.state for trial in trials if "attnlab.config" in trial.user_attrs]
        return TrialState.COMPLETE in states and TrialState.RUNNING in states

    wait_for(one_done_one_running, 120, "one cell complete and the next training")
    os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert launcher.wait(timeout=120) == 130
    trials = tiny.trials(STUDY)
    interrupted = [trial for trial in trials if trial.system_attrs.get(END_ATTR) == "interrupted"]
    assert len(interrupted) == 1 and interrupted[0].state == TrialState.FAIL
    assert interrupted[0].user_attrs["attnlab.failure_reason"].startswith("interrupted (Ctrl-C or SIGTERM)")
    finished_before = _cells(trials, TrialState.COMPLETE)

    resumed = tiny.run(*command)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    trials = tiny.trials(STUDY)
    assert _cells(trials, TrialState.COMPLETE) == ["cbam/seed0", "cbam/seed1", "plain/seed0", "plain/seed1"]
    trained = Counter(trial.system_attrs[CELL_ATTR] for trial in trials if END_ATTR not in trial.system_attrs)
    assert all(trained[cell] == 1 for cell in trained)
    assert all(cell in trained for cell in finished_before)


@pytest.mark.slow
def test_a_cell_can_train_as_ddp_on_two_processes(tiny: Tiny) -> None:
    study = tiny.study({"cbam": {}}, seeds=[0])
    done = tiny.run("ablate", str(study), "--profile", str(tiny.profile), "--devices-per-trial", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    (trial,) = tiny.trials(STUDY)
    assert trial.state == TrialState.COMPLETE
    trainer = trial.user_attrs["attnlab.config"]["trainer"]
    assert str(trainer["devices"]) == "2" and trainer["strategy"] == "ddp"
    assert trial.user_attrs["attnlab.metrics"]["test/top1_err"] == trial.value
    assert len(metrics_files(tiny.folder, STUDY)) == 1  # rank 0 logs; rank 1 joined the same run
