"""Loading a study's cells from each source: a real Optuna journal, real offline W&B runs, real CSV logs."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
import wandb
import yaml
from lightning.pytorch.loggers import CSVLogger

from attnlab.ablations import RowSpec, StudyDefinition
from attnlab.errors import ConfigError
from attnlab.reports.cells import cell_frame
from attnlab.reports.sources.lightning_csv import load_from_csv_logs
from attnlab.reports.sources.optuna_trials import load_from_optuna
from attnlab.reports.sources.wandb_log import load_from_wandb_dir, read_run, run_files
from attnlab.sweeps.store.attempts import CELL_ATTR, END_ATTR, End
from attnlab.sweeps.store.records import STUDY_DEFINITION_ATTR, STUDY_PROFILE_ATTR, CellRecord
from attnlab.sweeps.store.storage import open_storage

AXES = {"model.attention.type": "cbam", "model.attention.channel_pool": ["avg", "max"]}


def _definition() -> StudyDefinition:
    return StudyDefinition(
        name="mini",
        description="two rows, two seeds",
        base={"trainer.max_epochs": 1},
        rows={
            "ResNet (no attention)": RowSpec({"model.attention.type": "none"}, {"attention": "none"}),
            "+ CBAM": RowSpec({"model.attention.type": "cbam"}, {"attention": "cbam"}),
        },
        seeds=(0, 1),
        metric="test/top1_err",
        direction="minimize",
        baseline="ResNet (no attention)",
        paper={"+ CBAM": {"top1_err": 22.66, "top5_err": 6.31}},
    )


def _record(row: str, seed: int, top1: float | None) -> CellRecord:
    return CellRecord(
        study="mini",
        row=row,
        seed=seed,
        axes={"attention": row},
        config={"seed_everything": seed, "model": {"attention": {"type": "cbam"}}},
        metrics={} if top1 is None else {"test/top1_err": top1, "test/top5_err": top1 / 3, "cost/params": 1.0},
        params=170_000,
        macs=5_000_000,
        train_images_per_s=900.0,
        peak_memory_mb=300.0,
        wall_time_s=42.0,
        failure_reason=None if top1 is not None else "DivergedError: loss is nan",
    )


def test_optuna_journal_gives_the_cell_frame(tmp_path: Path) -> None:
    url = str(tmp_path / "attnlab.journal")
    study = optuna.create_study(study_name="mini@quick", storage=open_storage(url))
    study.set_user_attr(STUDY_DEFINITION_ATTR, _definition().to_dict())
    study.set_user_attr(STUDY_PROFILE_ATTR, "quick")
    finished = [
        (_record("ResNet (no attention)", 0, 30.0), optuna.trial.TrialState.COMPLETE),
        (_record("ResNet (no attention)", 1, 31.0), optuna.trial.TrialState.COMPLETE),
        (_record("+ CBAM", 0, 29.0), optuna.trial.TrialState.COMPLETE),
        (_record("+ CBAM", 1, None), optuna.trial.TrialState.FAIL),
    ]
    for record, state in finished:
        value = record.metrics.get("test/top1_err") if state == optuna.trial.TrialState.COMPLETE else None
        study.add_trial(optuna.trial.create_trial(state=state, value=value, user_attrs=record.to_user_attrs()))
    retry = study.ask()  # the failed cell retried, still running
    for key, value in _record("+ CBAM", 1, None).to_user_attrs().items():
        retry.set_user_attr(key, value)
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=1.0))  # not a cell

    loaded = load_from_optuna("mini", "quick", url)
    assert loaded.spec.rows == ("ResNet (no attention)", "+ CBAM")
    assert loaded.spec.baseline == "ResNet (no attention)" and loaded.spec.seeds == (0, 1)
    assert loaded.spec.paper["+ CBAM"]["top1_err"] == 22.66
    assert "mini@quick" in loaded.source
    cells = cell_frame(loaded.records, loaded.spec).set_index("cell")
    assert cells["state"].to_dict() == {
        "ResNet (no attention)/seed0": "complete",
        "ResNet (no attention)/seed1": "complete",
        "+ CBAM/seed0": "complete",
        "+ CBAM/seed1": "running",
    }
    assert cells.loc["+ CBAM/seed1", "attempts"] == 2
    assert cells.loc["ResNet (no attention)/seed1", "test/top1_err"] == 31.0
    assert cells.loc["+ CBAM/seed0", "gmacs"] == pytest.approx(0.005)
    assert cells.loc["+ CBAM/seed0", "axis:attention"] == "+ CBAM"
    assert cells.loc["+ CBAM/seed0", ["params", "train_images_per_s", "peak_memory_mb", "wall_time_s"]].tolist() == [
        170_000,
        900.0,
        300.0,
        42.0,
    ]
    assert "cost/params" not in cells.columns  # cost comes through the cost columns only


def test_optuna_attempts_count_as_the_sweeps_count_them(tmp_path: Path) -> None:
    """Interrupted attempts are void, a failure without an end is a lost worker, a fresh claim is running."""
    url = str(tmp_path / "attnlab.journal")
    study = optuna.create_study(study_name="mini@quick", storage=open_storage(url))
    study.set_user_attr(STUDY_DEFINITION_ATTR, _definition().to_dict())
    states = optuna.trial.TrialState
    interrupted = {END_ATTR: End.INTERRUPTED.value}
    base, cbam = _record("ResNet (no attention)", 0, None), _record("+ CBAM", 1, 29.0)
    base.failure_reason = None
    trials = [
        optuna.trial.create_trial(state=states.FAIL, user_attrs=base.to_user_attrs(), system_attrs=interrupted),
        optuna.trial.create_trial(
            state=states.FAIL, user_attrs=dataclasses.replace(base, seed=1).to_user_attrs(), system_attrs={}
        ),
        optuna.trial.create_trial(state=states.RUNNING, system_attrs={CELL_ATTR: "+ CBAM/seed0"}),
        optuna.trial.create_trial(state=states.FAIL, user_attrs=cbam.to_user_attrs(), system_attrs=interrupted),
        optuna.trial.create_trial(state=states.COMPLETE, value=29.0, user_attrs=cbam.to_user_attrs()),
    ]
    for trial in trials:
        study.add_trial(trial)
    loaded = load_from_optuna("mini", "quick", url)
    cells = cell_frame(loaded.records, loaded.spec).set_index("cell")
    assert cells[["state", "attempts"]].to_dict("index") == {
        "ResNet (no attention)/seed0": {"state": "missing", "attempts": 0},
        "ResNet (no attention)/seed1": {"state": "failed", "attempts": 1},
        "+ CBAM/seed0": {"state": "running", "attempts": 1},
        "+ CBAM/seed1": {"state": "complete", "attempts": 1},
    }
    assert cells.loc["ResNet (no attention)/seed1", "failure_reason"].startswith("worker lost")


def test_optuna_source_errors_name_the_storage_and_create_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "none.journal"
    with pytest.raises(ConfigError, match=r"^--storage .*none\.journal: no such file; run 'attnlab ablate STUDY'"):
        load_from_optuna("mini", "quick", str(missing))
    assert not missing.exists()
    url = str(tmp_path / "attnlab.journal")
    optuna.create_study(study_name="other@quick", storage=open_storage(url))
    with pytest.raises(ConfigError, match=r"no study 'mini@quick' \(STUDY@PROFILE\); studies there: other@quick"):
        load_from_optuna("mini", "quick", url)


def _offline_run(root: Path, name: str, *, group: str = "mini", profile: str = "quick", exit_code: int = 0) -> None:
    row, seed = name.split("/seed")
    config: dict[str, Any] = {
        "seed_everything": int(seed),
        "model": {"attention": {"type": "none" if row == "plain" else "cbam"}, "backbone": {"name": "resnet18"}},
        "attnlab": {"study": group, "row": row, "seed": int(seed), "axes": AXES, "profile": profile},
        "notes": "x" * 40_000,  # one record larger than a 32 KiB block: split into first/middle/last chunks
    }
    run = wandb.init(dir=root, project="attnlab", group=group, name=name, config=config)
    top1 = 30.0 + int(seed) - (row == "cbam")
    for epoch in range(2):
        run.log({"val/top1_err": top1 + 5 - epoch, "epoch": epoch})
    if exit_code == 0:
        run.log({"test/top1_err": top1, "test/top5_err": top1 / 3})
        run.summary.update({"cost/params": 170_000 + 3_000 * (row == "cbam"), "cost/gmacs": 0.005})
        run.summary.update({"cost/train_images_per_s": 1000.0 - 100 * (row == "cbam"), "cost/peak_memory_mb": 300.0})
    run.finish(exit_code=exit_code)


@pytest.fixture(scope="module")
def offline_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real offline runs: 2 rows x 2 seeds of study 'mini' (one failed), plus runs that are not its cells."""
    root = tmp_path_factory.mktemp("wandb_runs")
    for name in ("plain/seed0", "plain/seed1", "cbam/seed0"):
        _offline_run(root, name)
    _offline_run(root, "cbam/seed1", exit_code=1)
    _offline_run(root, "cbam/seed0", group="other")
    _offline_run(root, "cbam/seed0", profile="cifar100")
    return root


def test_offline_wandb_runs_give_the_cell_frame(offline_runs: Path) -> None:
    loaded = load_from_wandb_dir(offline_runs, "mini", "quick")
    assert loaded.source.startswith("6 W&B run files under") and "(2 other runs ignored)" in loaded.source
    assert loaded.spec.rows == ("plain", "cbam") and loaded.spec.seeds == (0, 1)
    assert loaded.spec.baseline == "plain"  # the row without attention
    cells = cell_frame(loaded.records, loaded.spec).set_index("cell")
    assert cells["state"].to_dict() == {
        "plain/seed0": "complete",
        "plain/seed1": "complete",
        "cbam/seed0": "complete",
        "cbam/seed1": "failed",
    }
    assert cells.loc["cbam/seed1", "failure_reason"] == "W&B run failed"
    assert cells.loc["plain/seed1", ["test/top1_err", "val/top1_err"]].tolist() == [31.0, 35.0]
    assert cells.loc["cbam/seed0", ["params", "gmacs", "train_images_per_s"]].tolist() == [173_000, 0.005, 900.0]
    assert cells.loc["cbam/seed0", "axis:model.attention.channel_pool"] == '["avg", "max"]'
    record = next(record for record in loaded.records if record.cell == "cbam/seed0")
    assert record.config["model"]["backbone"]["name"] == "resnet18" and len(record.config["notes"]) == 40_000
    assert "attnlab" not in record.config and "_wandb" not in record.config
    assert isinstance(record.wall_time_s, float)  # the run's _runtime (whole seconds: 0 for this short run)
    assert not {"epoch", "_runtime", "_step", "cost/params"} & set(cells.columns)  # not scores
    assert math.isnan(cells.loc["cbam/seed1", "test/top1_err"])


def test_offline_run_still_writing_counts_as_running(offline_runs: Path, tmp_path: Path) -> None:
    finished = next(path for path in run_files(offline_runs) if read_run(path).name == "plain/seed0")
    partial = tmp_path / "offline-run-x" / finished.name
    partial.parent.mkdir()
    data = finished.read_bytes()
    partial.write_bytes(data[:-5])  # the exit record (the last one) cut short, as while the run is alive
    run = read_run(partial)
    assert run.state == "running"
    assert run.summary["test/top1_err"] == 30.0 and run.config["attnlab"]["row"] == "plain"


def test_offline_source_errors(offline_runs: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no attnlab run of study 'nope' under profile 'quick'"):
        load_from_wandb_dir(offline_runs, "nope", "quick")
    with pytest.raises(ConfigError, match=r"no W&B run files"):
        load_from_wandb_dir(tmp_path, "mini", "quick")
    broken = tmp_path / "wandb" / "offline-run-1" / "run-1.wandb"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a run file")
    with pytest.raises(ConfigError, match=r"run-1\.wandb: not a W&B run file"):
        load_from_wandb_dir(tmp_path, "mini", "quick")
    source = next(iter(run_files(offline_runs)))
    data = bytearray(source.read_bytes())
    data[20] ^= 0xFF  # flip a byte inside the first record
    broken.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match=r"corrupt W&B run file \(checksum mismatch at byte 7\)"):
        load_from_wandb_dir(tmp_path, "mini", "quick")


def _train_run(root: Path, version: int, attention: str, seed: int, top1: float | None) -> None:
    """What ``attnlab train`` leaves: a CSVLogger version folder with metrics.csv and the CLI's config.yaml."""
    logger = CSVLogger(root, name="attnlab", version=version)
    for epoch in range(2):
        logger.log_metrics({"train/loss": 2.0 - epoch, "epoch": epoch}, step=10 * epoch + 4)
        logger.log_metrics({"val/top1_err": (top1 or 50.0) + 4 - epoch, "epoch": epoch}, step=10 * epoch + 9)
        cost = {"cost/params": 170_000.0, "cost/gmacs": 0.005, "cost/train_images_per_s": 950.0 - 10 * epoch}
        logger.log_metrics({**cost, "cost/peak_memory_mb": 310.0, "epoch": epoch}, step=10 * epoch + 9)
    if top1 is not None:
        logger.log_metrics({"test/top1_err": top1, "test/top5_err": top1 / 3, "epoch": 2}, step=20)
    logger.save()
    config = {
        "seed_everything": seed,
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1},
        "model": {
            "backbone": {"name": "resnet18", "stem": "cifar", "width": 0.25, "stride_placement": "v1"},
            "attention": {"type": attention, "reduction": 16, "kernel_size": 7},
            "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5.0e-4},
            "num_classes": 10,
        },
        "data": {"class_path": "attnlab.datamodules.ClutteredDigitsDataModule", "init_args": {"batch_size": 128}},
    }
    (Path(logger.log_dir) / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def test_csv_logs_group_runs_into_rows_by_design(tmp_path: Path) -> None:
    runs = [("cbam", 0, 29.0), ("cbam", 1, 29.5), ("cbam", 2, None), ("none", 0, 30.0), ("none", 1, 31.0)]
    for version, (attention, seed, top1) in enumerate(runs):
        _train_run(tmp_path / "logs", version, attention, seed, top1)
    loaded = load_from_csv_logs(tmp_path / "logs", "my-runs", "test/top1_err")
    assert loaded.spec.rows == ("none", "cbam") and loaded.spec.seeds == (0, 1, 2)  # the baseline row first
    assert loaded.spec.baseline == "none" and loaded.spec.profile is None  # the row without attention
    cells = cell_frame(loaded.records, loaded.spec).set_index("cell")
    assert cells["state"].to_dict() == {
        "none/seed0": "complete",
        "none/seed1": "complete",
        "none/seed2": "missing",
        "cbam/seed0": "complete",
        "cbam/seed1": "complete",
        "cbam/seed2": "running",
    }
    assert cells.loc["cbam/seed1", ["test/top1_err", "val/top1_err"]].tolist() == [29.5, 32.5]  # last logged
    assert cells.loc["cbam/seed1", ["params", "gmacs", "train_images_per_s"]].tolist() == [170_000, 0.005, 940.0]
    assert cells.loc["cbam/seed0", "axis:model.attention.type"] == "cbam"
    assert [column for column in cells.columns if column.startswith("axis:")] == ["axis:model.attention.type"]


def test_csv_rows_named_after_several_differing_fields(tmp_path: Path) -> None:
    _train_run(tmp_path, 0, "cbam", 0, 30.0)
    _train_run(tmp_path, 1, "se", 0, 31.0)
    config_path = tmp_path / "attnlab" / "version_1" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["model"]["attention"]["reduction"] = 8
    config_path.write_text(yaml.safe_dump(config))
    loaded = load_from_csv_logs(tmp_path, "mixed", "test/top1_err")
    assert loaded.spec.rows == ("reduction=16, type=cbam", "reduction=8, type=se")


def test_csv_source_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no metrics\.csv under it"):
        load_from_csv_logs(tmp_path, "x", "test/top1_err")
    _train_run(tmp_path, 0, "cbam", 0, 30.0)
    config_path = tmp_path / "attnlab" / "version_0" / "config.yaml"
    config_path.write_text("seed_everything: [1\n")
    with pytest.raises(ConfigError, match=r"config\.yaml: not valid YAML"):
        load_from_csv_logs(tmp_path, "x", "test/top1_err")
    config_path.write_text(yaml.safe_dump({"seed_everything": True, "model": {}}))
    with pytest.raises(ConfigError, match=r"config\.yaml: seed_everything must be an integer seed, got True"):
        load_from_csv_logs(tmp_path, "x", "test/top1_err")
    config_path.unlink()
    with pytest.raises(ConfigError, match=r"version_0: has metrics\.csv but no config\.yaml"):
        load_from_csv_logs(tmp_path, "x", "test/top1_err")


def test_wandb_api_without_credentials_fails_in_one_line(tmp_path: Path) -> None:
    """The public-API path runs up to W&B's own client, whose refusal becomes one line (no server here)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("WANDB_")}
    environment |= {"HOME": str(tmp_path), "WANDB_CONFIG_DIR": str(tmp_path / "config"), "NETRC": str(tmp_path / "n")}
    command = [sys.executable, "-m", "attnlab", "report", "mini", "--wandb", "team/attnlab", "-o", str(tmp_path / "o")]
    run = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=120)
    assert run.returncode == 2
    assert run.stderr.startswith("attnlab report: error: --wandb team/attnlab: cannot read the project: ")
    assert run.stderr.count("\n") == 1 and not (tmp_path / "o").exists()
