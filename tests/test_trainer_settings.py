"""Trainer settings that would fail every run on this machine are refused in one line before any compute."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_train import tiny_args

from attnlab.cli.main import main
from attnlab.errors import ConfigError
from attnlab.training import validate_train_args

MISSING_GPU = "trainer.accelerator: 'gpu' is not available on this machine; available: auto, cpu"
NO_GPU = not torch.cuda.is_available() and not torch.backends.mps.is_available()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        pytest.param(
            "--trainer.accelerator=gpu",
            MISSING_GPU,
            marks=pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU"),
        ),
        ("--trainer.devices=0", "trainer.devices: `Trainer(devices='0')` value is not a valid input"),
        ("--trainer.max_epochs=0", "trainer.max_epochs: 0; use 1 or more, or -1 for no limit"),
        ("--trainer.precision=8", "trainer.precision: must be one of"),
        ("--trainer.strategy=fsdp", "trainer.strategy: The strategy `fsdp` requires a GPU accelerator"),
    ],
)
def test_a_trainer_setting_this_machine_cannot_run_is_one_line(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate_train_args([*tiny_args(), override])
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_settings_this_machine_runs_pass() -> None:
    # -1 (train until stopped) needs a schedule without an end: the cosine one is refused (test_rough_edges.py)
    args = [*tiny_args(), "--trainer.max_epochs=-1", "--trainer.accelerator=cpu", "--model.scheduler.name=step"]
    assert validate_train_args(args)["trainer"]["max_epochs"] == -1


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_train_on_a_missing_gpu_exits_2_before_training(in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *tiny_args(), "--trainer.accelerator=gpu"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == "attnlab train: error: " + MISSING_GPU
    assert not list(in_tmp_dir.glob("runs/**/metrics.csv")), "nothing may train"
