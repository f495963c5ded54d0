"""Real launchers killed whole (a machine's loss) spend no retries; a worker killed under its launcher does."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from optuna.trial import FrozenTrial
from sweep_helpers import Tiny, completions, training_under, wait_for, worker_pid

from attnlab.sweeps.store.attempts import END_ATTR, FAILURE_REASON_ATTR

STUDY = "tiny@tiny-profile"
FAST_HEARTBEAT = ["--heartbeat-interval", "1", "--grace-period", "4"]


def _started_training(tiny: Tiny, command: list[str], background: list) -> tuple[subprocess.Popen, FrozenTrial]:
    """A launcher of ``command`` in the background, once its worker trains a cell, and that cell's attempt."""
    launcher = tiny.start(*command)
    background.append(launcher)
    return launcher, wait_for(lambda: training_under(tiny.trials(STUDY), launcher), 120, "a cell training")


@pytest.mark.slow
def test_four_launcher_kills_mid_cell_fail_no_cell(tiny: Tiny, background: list) -> None:
    study = tiny.study({"cbam": {}}, seeds=[0])  # one cell: every kill lands on it
    command = ["ablate", str(study), "--profile", str(tiny.profile), "--workers", "1", "--max-retries", "2"]
    command += FAST_HEARTBEAT
    for _ in range(4):
        launcher, _ = _started_training(tiny, command, background)
        os.killpg(launcher.pid, signal.SIGKILL)  # the launcher and its worker at once, as a lost node
        launcher.wait(timeout=30)

    done = tiny.run(*command)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"{STUDY}: 1/1 cells finished, 1 complete, 0 failed"
    trials = tiny.trials(STUDY)
    assert completions(trials) == {"cbam/seed0": 1}
    lost = [trial for trial in trials if (trial.user_attrs.get(FAILURE_REASON_ATTR) or "").startswith("worker lost")]
    assert len(lost) == 4 and not any(END_ATTR in trial.system_attrs for trial in lost)  # the machine's, uncharged


@pytest.mark.slow
def test_a_worker_killed_under_its_living_launcher_uses_up_the_cells_retries(tiny: Tiny, background: list) -> None:
    study = tiny.study({"cbam": {}}, seeds=[0])
    command = ["ablate", str(study), "--profile", str(tiny.profile), "--workers", "1", "--max-retries", "1"]
    command += FAST_HEARTBEAT
    for _ in range(2):
        launcher, victim = _started_training(tiny, command, background)
        os.kill(worker_pid(victim), signal.SIGKILL)  # the worker alone: its launcher sees it die
        assert launcher.wait(timeout=60) == 1

    status = tiny.run("status", STUDY, "--max-retries", "1", "--format", "json")
    assert status.returncode == 0, status.stderr
    [cell] = json.loads(status.stdout)["cells"]
    assert (cell["state"], cell["attempts"], cell["detail"]) == ("failed", 2, "worker died: killed by SIGKILL")
    again = tiny.run(*command)
    assert again.returncode == 1 and "nothing to train" in again.stdout
    assert "failed cbam/seed0: worker died: killed by SIGKILL" in again.stdout
