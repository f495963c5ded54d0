"""Cells trained by real workers carry what optuna-dashboard needs: design params, curve, note, metric name."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState
from sweep_helpers import Tiny

from attnlab.sweeps.store.storage import open_storage

STUDY = "tiny@tiny-profile"


def test_finished_cells_carry_params_curves_and_the_metric_name(tiny: Tiny) -> None:
    study = tiny.study({"plain": {"model.attention.type": "none"}, "cbam": {}}, seeds=[0])
    done = tiny.run("ablate", str(study), "--profile", str(tiny.profile))
    assert done.returncode == 0, done.stdout + done.stderr
    complete = [trial for trial in tiny.trials(STUDY) if trial.state == TrialState.COMPLETE]
    assert sorted(trial.params["row"] for trial in complete) == ["cbam", "plain"]
    assert all(trial.params["seed"] == 0 and len(trial.intermediate_values) == 1 for trial in complete)
    assert all(0 <= value <= 100 for trial in complete for value in trial.intermediate_values.values())
    loaded = optuna.load_study(study_name=STUDY, storage=open_storage(str(tiny.journal)))
    assert loaded.metric_names == ["test/top1_err"]
