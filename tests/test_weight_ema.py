"""model.ema_decay: validation, checkpoints and the test all see the averaged weights; a resumed run continues them."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from attnlab.errors import ConfigError
from attnlab.training import run_training
from tests.test_train import StopAfterEpochs, tiny_args

EMA = {"model.ema_decay": 0.5}


class TestedWeights(Callback):
    """Keeps a copy of the weights the test runs on."""

    def __init__(self) -> None:
        self.state: dict[str, torch.Tensor] = {}

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.state = {name: value.clone() for name, value in pl_module.state_dict().items()}


def test_the_test_runs_on_the_averaged_weights_of_the_best_checkpoint(in_tmp_dir: Path) -> None:
    tested = TestedWeights()
    result = run_training(tiny_args(**EMA), callbacks=[tested])
    checkpoint = torch.load(result.best_checkpoint, map_location="cpu", weights_only=True)
    averaged, current = checkpoint["state_dict"], checkpoint["current_model_state"]
    weight = "net.fc.weight" if "net.fc.weight" in averaged else next(name for name in averaged if "weight" in name)
    assert not torch.equal(averaged[weight], current[weight])  # the average is not the last step's weights
    for name, value in averaged.items():
        assert torch.equal(tested.state[name], value), name


def test_final_test_weights_are_the_average_training_ended_with(in_tmp_dir: Path) -> None:
    tested = TestedWeights()
    args = tiny_args(**{"trainer.max_epochs": 3, "test_weights": "final", **EMA})
    result = run_training(args, callbacks=[tested])
    assert result.best_checkpoint is not None
    last = torch.load(Path(result.best_checkpoint).with_name("last.ckpt"), map_location="cpu", weights_only=True)
    assert last["epoch"] == 2  # saved after the final epoch: the weights training ended with
    for name, value in last["state_dict"].items():  # the average, as every checkpoint holds it
        assert torch.equal(tested.state[name], value), name


def test_a_resumed_run_continues_the_average(in_tmp_dir: Path) -> None:
    args = tiny_args(**{"trainer.max_epochs": 4, **EMA})
    uninterrupted = run_training(args, run_test=False)
    interrupted = ["--trainer.logger.save_dir=interrupted"]
    run_training([*args, *interrupted], callbacks=[StopAfterEpochs(2)], run_test=False)
    resumed = run_training([*args, *interrupted, "--ckpt_path=last"], run_test=False)
    for key in ("val/loss", "val/top1_err"):
        assert resumed.metrics[key] == uninterrupted.metrics[key], key


def test_a_decay_outside_zero_to_one_is_refused_in_one_line(in_tmp_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^model.ema_decay: 1.5 is not in \(0, 1\)"):
        run_training(tiny_args(**{"model.ema_decay": 1.5}))
