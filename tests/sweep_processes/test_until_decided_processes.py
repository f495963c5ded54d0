"""``attnlab ablate --until-decided`` with real workers: a second round trains seeds the study file never listed."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState
from sweep_helpers import Tiny

from attnlab.sweeps.store.attempts import CELL_ATTR


@pytest.mark.slow  # four tiny trainings in two rounds, plus three launcher starts
def test_rounds_train_extra_seeds_until_the_rows_are_decided(tiny: Tiny) -> None:
    # Two rows with the same config train identically: a zero difference on every seed, equivalent once there
    # are two pairs (one pair cannot be tested), so the launcher needs exactly one extra round.
    study = tiny.study({"plain": {"model.attention.type": "none"}, "twin": {"model.attention.type": "none"}}, [0])
    command = ["ablate", str(study), "--profile", str(tiny.profile), "--until-decided", "--max-seeds", "3"]
    done = tiny.run(*command, "--margin", "1", "--seeds-per-round", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "round 2/3: 2 cells to train" in done.stdout
    assert "twin: equivalent within ±1 (sequential, look 2/3, 2 seeds)" in done.stdout
    trials = tiny.trials("tiny@tiny-profile")
    complete = sorted(trial.system_attrs[CELL_ATTR] for trial in trials if trial.state == TrialState.COMPLETE)
    assert complete == ["plain/seed0", "plain/seed1", "twin/seed0", "twin/seed1"]
    assert all(
        trial.user_attrs["attnlab.config"]["seed_everything"] == int(trial.system_attrs[CELL_ATTR][-1])
        for trial in trials
        if trial.state == TrialState.COMPLETE
    )

    again = tiny.run(*command, "--margin", "1", "--seeds-per-round", "1")  # resumed: decided, nothing to train
    assert again.returncode == 0 and "round" not in again.stdout
    other = tiny.run(*command, "--margin", "2", "--seeds-per-round", "1")
    assert other.returncode == 2 and "--margin 1" in other.stderr

    report = tiny.run("report", "tiny", "--profile", "tiny-profile", "--storage", tiny.journal)
    assert report.returncode == 0, report.stderr
    assert "COMPLETE: 4/4 cells" in report.stdout
    assert "equivalent within ±1 (sequential, look 2/3, 2 seeds)" in report.stdout
