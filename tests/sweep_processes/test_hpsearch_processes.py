"""``attnlab sweep``: a real search with pruning; poor trials stop early, the best config is saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from optuna.trial import TrialState
from sweep_helpers import Tiny

from attnlab.cli.main import main

EPOCHS = 2


def _sweep(tiny: Tiny, **changes: Any) -> Path:
    """Two trials: lr 1e-9 (stays at the initial loss, about 2.31-2.33) and lr 0.03 (below 2.28 after one epoch)."""
    sweep = {
        "name": "tiny-search",
        "profile": str(tiny.profile),
        "base": {"trainer.max_epochs": EPOCHS, "trainer.limit_train_batches": 24},
        "space": {"model.optimizer.lr": {"type": "categorical", "choices": [0.03, 1.0e-9]}},
        "n_trials": 2,
        "metric": "val/loss",
        "sampler": {"name": "random", "seed": 0},  # proposes 1e-9 first, then 0.03
        "pruner": {"name": "threshold", "upper": 2.28, "n_warmup_steps": 0},
        **changes,
    }
    path = tiny.folder / "search.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


@pytest.mark.slow
def test_a_pruned_sweep_stops_bad_trials_early_and_saves_the_best_config(tiny: Tiny) -> None:
    done = tiny.run("sweep", str(_sweep(tiny)), "-o", "best.yaml")
    assert done.returncode == 0, done.stdout + done.stderr

    trials = tiny.trials("tiny-search@tiny-profile")
    assert [trial.state for trial in trials] == [TrialState.PRUNED, TrialState.COMPLETE]
    pruned, complete = trials
    assert pruned.params == {"model.optimizer.lr": 1e-9} and len(pruned.intermediate_values) < EPOCHS
    assert len(complete.intermediate_values) == EPOCHS and complete.value < 2.28
    assert pruned.user_attrs["attnlab.failure_reason"] == "Trial was pruned at epoch 0."
    assert complete.user_attrs["attnlab.axes"] == {"model.optimizer.lr": 0.03}
    assert not any(key.startswith("test/") for key in complete.user_attrs["attnlab.metrics"])  # test split unseen

    best = yaml.safe_load((tiny.folder / "best.yaml").read_text())
    assert best["model"]["optimizer"]["lr"] == 0.03 and best["trainer"]["max_epochs"] == EPOCHS
    assert best["trainer"]["logger"]["init_args"]["version"] is None  # a new run gets its own log folder
    assert "best trial 1: val/loss" in done.stdout

    again = tiny.run("sweep", str(_sweep(tiny)), "-o", "best.yaml")
    assert again.returncode == 0 and "nothing to train" in again.stdout
    assert len(tiny.trials("tiny-search@tiny-profile")) == 2


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"model.optimizer.learning_rate": {"type": "float", "low": 0.1, "high": 1.0}}, "learning_rate=0.1: "),
        ({"model.attention.type": {"type": "categorical", "choices": ["cbam", "cbma"]}}, "type='cbma': "),
    ],
)
def test_a_space_the_config_cannot_take_fails_before_any_training(
    tiny: Tiny, capsys: pytest.CaptureFixture[str], space: dict[str, Any], message: str
) -> None:
    assert main(["sweep", str(_sweep(tiny, space=space))]) == 2
    error = capsys.readouterr().err.strip()
    assert f"space: {next(iter(space)).rsplit('.', 1)[0]}." in error and message in error and "\n" not in error
    assert tiny.trials("tiny-search@tiny-profile") == []  # no study was created
