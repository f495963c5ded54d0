"""``attnlab train`` end to end on the embedded digits: accuracy, reproducibility, resume, errors, loggers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import yaml
from lightning.pytorch.callbacks import Callback

from attnlab.cli.main import main
from attnlab.errors import ConfigError
from attnlab.modules.classifier import DivergedError
from attnlab.training import overrides_to_args, run_training, validate_train_args

CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "digits.yaml")
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def tiny_args(**overrides: object) -> list[str]:
    """The digits config, shortened to seconds: native 8×8 digits, 2 short epochs, an 8-wide ResNet."""
    settings = {
        "trainer.max_epochs": 2,
        "trainer.limit_train_batches": 8,
        "model.backbone.width": 0.125,
        "model.attention.reduction": 2,
        "data.scale": 1,
    }
    return ["--config", CONFIG, *QUIET, *overrides_to_args({**settings, **overrides})]


def test_overrides_become_yaml_readable_cli_arguments() -> None:
    args = overrides_to_args({"model.attention.channel_pool": ["avg"], "model.attention.type": "se", "x.y": 3})
    assert args == ['--model.attention.channel_pool=["avg"]', "--model.attention.type=se", "--x.y=3"]


def test_validation_resolves_the_design_without_training() -> None:
    config = validate_train_args(tiny_args(**{"model.attention.type": "cbam-official"}))
    attention = config["model"]["attention"]
    assert attention["spatial_norm"] == "bn" and attention["spatial_norm_zero_init"] is True
    assert attention["spatial_pool"] == ["max", "avg"]
    assert config["model"]["num_classes"] == 10 and config["model"]["in_channels"] == 1


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ("--model.attention.kernel_sise=7", "kernel_sise"),
        ("--model.attention.kernel_size=4", "kernel_size"),
        ("--trainer.max_epochs=many", "max_epochs"),
        ("--data.batch_sizee=3", "batch_sizee"),
        ("--model.optimizer.lr=-1", "lr"),
    ],
)
def test_bad_config_is_one_line_error_naming_the_key(override: str, names: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate_train_args([*tiny_args(), override])
    assert "\n" not in str(error.value)
    assert names in str(error.value)


def test_cli_reports_bad_key_in_one_line_and_exits_2(in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *tiny_args(), "--model.attention.arrangment=parallel"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("attnlab train: error:") and "arrangment" in err and "\n" not in err
    assert not (in_tmp_dir / "runs").exists(), "nothing may be written before the config is valid"


def test_train_logs_errors_cost_and_saves_config_beside_logs(in_tmp_dir: Path) -> None:
    result = run_training(tiny_args())
    for key in ("val/top1_err", "val/top5_err", "test/top1_err", "test/top5_err", "cost/train_images_per_s"):
        assert key in result.metrics, key
    assert 0 <= result.metrics["test/top1_err"] <= 100
    assert result.metrics["test/top5_err"] <= result.metrics["test/top1_err"]
    assert result.params is not None and result.params > 0 and result.macs is not None and result.macs > 0
    assert result.metrics["cost/params"] == result.params
    assert result.train_images_per_s is not None and result.train_images_per_s > 0
    saved = yaml.safe_load((Path(result.log_dir) / "config.yaml").read_text())
    assert saved["model"]["attention"]["type"] == "cbam"
    assert Path(result.best_checkpoint).is_file() and (Path(result.log_dir) / "checkpoints" / "last.ckpt").is_file()


def test_same_seed_reproduces_metrics_exactly(in_tmp_dir: Path) -> None:
    first = run_training(tiny_args())
    second = run_training(tiny_args())
    assert first.metrics["test/top1_err"] == second.metrics["test/top1_err"]
    assert first.metrics["val/loss"] == second.metrics["val/loss"]
    other_seed = run_training(tiny_args(seed_everything=1))
    assert other_seed.metrics["val/loss"] != first.metrics["val/loss"]


class StopAfterEpochs(Callback):
    """Interrupts a run at an epoch boundary, as a lost job would be, without changing its config."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.should_stop = trainer.current_epoch + 1 >= self.epochs


def test_resume_from_last_checkpoint_equals_uninterrupted_run(in_tmp_dir: Path) -> None:
    args = tiny_args(**{"trainer.max_epochs": 4})
    uninterrupted = run_training(args, run_test=False)
    interrupted = ["--trainer.logger.save_dir=interrupted"]
    stopped = run_training([*args, *interrupted], callbacks=[StopAfterEpochs(2)], run_test=False)
    assert stopped.metrics["val/loss"] != uninterrupted.metrics["val/loss"]
    resumed = run_training([*args, *interrupted, "--ckpt_path=last"], run_test=False)
    for key in ("val/loss", "val/top1_err", "train/loss_epoch"):
        assert resumed.metrics[key] == uninterrupted.metrics[key], key


def test_diverged_loss_raises_with_reason(in_tmp_dir: Path) -> None:
    with pytest.raises(DivergedError, match=r"training loss is (nan|inf)"):
        run_training(tiny_args(**{"model.optimizer.lr": 1e12, "model.optimizer.nesterov": False}))


def test_digits_reaches_95_percent(in_tmp_dir: Path) -> None:
    result = run_training(["--config", CONFIG, *QUIET, "--trainer.max_epochs=8"])
    assert result.metrics["test/top1_err"] <= 5.0, result.metrics


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_writes_one_wandb_run(in_tmp_dir: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "attnlab",
        "train",
        # (sync_batchnorm is GPU-only in torch 2.13, so the CPU run leaves it off.)
        *tiny_args(**{"trainer.devices": 2, "trainer.strategy": "ddp"}),
        "--trainer.logger=lightning.pytorch.loggers.WandbLogger",
        "--trainer.logger.save_dir=wandb_runs",
        "--trainer.logger.offline=true",
        "--trainer.logger.project=attnlab-test",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = sorted((in_tmp_dir / "wandb_runs" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, runs
    assert "test error" in done.stdout
