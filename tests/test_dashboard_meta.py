"""What a finished cell writes for optuna-dashboard: params over the study's levels, curve, notes, metric name."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState
from optuna_dashboard._note import get_note_from_system_attrs

from attnlab.ablations import Cell
from attnlab.sweeps.store.dashboard_meta import DesignParams, annotate_cell, design_distributions, read_curve
from attnlab.sweeps.store.records import CellRecord
from attnlab.sweeps.store.storage import open_storage

CELLS = [
    Cell("demo", row, seed, {"model.attention.type": kind, "model.attention.kernel": [3, 3]}, {})
    for row, kind in (("plain", "none"), ("cbam", "cbam"))
    for seed in (0, 1)
]


def test_design_axes_become_categorical_params_over_the_study_levels_and_the_seed_an_integer() -> None:
    distributions = design_distributions(CELLS)
    assert distributions["row"] == CategoricalDistribution(["plain", "cbam"])
    assert distributions["seed"] == IntDistribution(0, 1)
    assert distributions["model.attention.type"] == CategoricalDistribution(["none", "cbam"])
    assert distributions["model.attention.kernel"] == CategoricalDistribution(["[3, 3]"])


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_a_cell_gets_params_curve_note_and_metric_name(tmp_path: Path, kind: str) -> None:
    (tmp_path / "metrics.csv").write_text("epoch,step,val/top1_err,train/loss\n0,9,40.0,\n0,9,,1.2\n1,19,31.5,\n")
    assert read_curve(str(tmp_path)) == {0: 40.0, 1: 31.5}
    storage = open_storage(str(tmp_path / "s.journal") if kind == "journal" else f"sqlite:///{tmp_path / 's.db'}")
    study = optuna.create_study(study_name="demo@quick", storage=storage)
    # A worker claims through the raw storage, which a database's study caches behind (Optuna's _CachedStorage).
    trial_id = storage.create_new_trial(study._study_id)
    with warnings.catch_warnings():  # a worker annotates every cell: no Optuna warning each time
        warnings.simplefilter("error", optuna.exceptions.ExperimentalWarning)
        annotate_cell(study, trial_id, CELLS[3], DesignParams.of(CELLS), "test/top1_err", str(tmp_path))
    storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [21.0])
    frozen = study.trials[0]
    assert frozen.params == {
        "row": "cbam",
        "seed": 1,
        "model.attention.type": "cbam",
        "model.attention.kernel": "[3, 3]",
    }
    assert frozen.intermediate_values == {0: 40.0, 1: 31.5}
    assert study.metric_names == ["test/top1_err"]
    note = get_note_from_system_attrs(study._storage.get_study_system_attrs(study._study_id), frozen._trial_id)["body"]
    assert note.startswith("## Cell cbam/seed1") and "`model.attention.type` = `cbam`" in note


def test_curve_is_not_a_user_attribute_and_old_records_still_load() -> None:
    record = CellRecord(study="demo", row="plain", seed=0, curve={0: 40.0})
    assert "attnlab.curve" not in record.to_user_attrs()
    assert CellRecord.from_user_attrs(record.to_user_attrs(), "complete").curve == {}
