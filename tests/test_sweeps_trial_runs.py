"""What a trial trains with and what it records, and the W&B sweep built from a study (no training here)."""

from __future__ import annotations

from pathlib import Path

import optuna

from attnlab.ablations import RowSpec, StudyDefinition
from attnlab.sweeps.runs.execution import Outcome, PruningTarget, RunSpec
from attnlab.sweeps.runs.trial_runs import device_overrides, finished_record, log_version_override, write_record
from attnlab.sweeps.runs.wandb_runs import WandbRun, axis_tags
from attnlab.sweeps.store.records import CellRecord
from attnlab.sweeps.store.storage import open_storage
from attnlab.sweeps.wandb_sweep import sweep_config

RESULT = {
    "metrics": {"test/top1_err": 12.5, "val/top1_err": 11.0},
    "params": 1000,
    "macs": 2_000_000,
    "train_images_per_s": 321.0,
    "peak_memory_mb": 512.0,
    "wall_time_s": 3.5,
    "log_dir": "runs/x",
    "best_checkpoint": None,
    "config": {"seed_everything": 1},
}
RUNNING = CellRecord(study="s", row="cbam", seed=1, axes={"model.attention.type": "cbam"}, state="running")


def test_workers_set_devices_and_ddp_and_name_log_folders_after_trials() -> None:
    assert device_overrides(1) == {"trainer.devices": 1, "trainer.enable_progress_bar": False}
    assert device_overrides(2)["trainer.strategy"] == "ddp"
    csv = {"trainer": {"logger": {"class_path": "CSVLogger", "init_args": {"save_dir": "runs", "version": None}}}}
    assert log_version_override(csv, "s@quick/cbam/seed1/trial3") == {
        "trainer.logger.init_args.version": "s@quick/cbam/seed1/trial3"
    }
    assert log_version_override({"trainer": {"logger": False}}, "v") == {}


def test_a_complete_run_fills_the_record_and_gives_the_objective_value() -> None:
    done, value = finished_record(RUNNING, Outcome("complete", result=RESULT), "test/top1_err")
    assert value == 12.5 and done.state == "complete" and done.failure_reason is None
    assert (done.params, done.macs, done.train_images_per_s, done.peak_memory_mb, done.wall_time_s) == (
        1000,
        2_000_000,
        321.0,
        512.0,
        3.5,
    )
    assert done.config == {"seed_everything": 1} and done.metrics["val/top1_err"] == 11.0


def test_failures_and_missing_metrics_are_recorded_with_their_reason() -> None:
    failed, value = finished_record(RUNNING, Outcome("failed", reason="diverged: loss is nan"), "test/top1_err")
    assert value is None and (failed.state, failed.failure_reason) == ("failed", "diverged: loss is nan")
    nan_metric = dict(RESULT, metrics={"test/top1_err": float("nan")})
    missing, value = finished_record(RUNNING, Outcome("complete", result=nan_metric), "test/top1_err")
    assert value is None and missing.failure_reason.startswith("metric test/top1_err was not logged as a finite")


def test_a_record_written_in_two_steps_reads_back_whole(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "s.journal"))
    study = optuna.create_study(storage=storage, study_name="s@quick")
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name("s@quick"), study.ask().number
    )
    write_record(storage, trial_id, RUNNING)
    done, _ = finished_record(RUNNING, Outcome("complete", result=RESULT), "test/top1_err")
    write_record(storage, trial_id, done, previous=RUNNING)
    stored = CellRecord.from_user_attrs(storage.get_trial(trial_id).user_attrs, "complete")
    assert stored == done


def test_run_specs_travel_as_json() -> None:
    spec = RunSpec(
        args=["--config", "p.yaml"],
        run_test=False,
        wandb=WandbRun(project="p", group="s", name="cbam/seed1", tags=axis_tags({"a.b": 4}), config={"x": 1}),
        pruning=PruningTarget("sqlite:///o.db", "s@quick", 3, "val/loss"),
    )
    assert RunSpec.from_json(spec.to_json()) == spec
    assert spec.wandb.tags == ["a.b=4"] and axis_tags({"k": "v" * 80}) == [("k=" + "v" * 80)[:64]]


def test_the_wandb_sweep_is_a_grid_over_the_cells_running_one_cell_per_command() -> None:
    study = StudyDefinition(
        name="s",
        description="two rows",
        base={},
        rows={"plain": RowSpec({"model.attention.type": "none"}), "cbam": RowSpec()},
        seeds=(0, 1),
        metric="test/top1_acc",
        direction="maximize",
        baseline="plain",
    )
    config = sweep_config(study, "s.yaml", "quick", {"trainer.max_epochs": 3}, storage="sqlite:///o.db", project="p")
    assert config["parameters"] == {"cell": {"values": ["plain/seed0", "cbam/seed0", "plain/seed1", "cbam/seed1"]}}
    assert config["metric"] == {"name": "test/top1_acc", "goal": "maximize"} and config["project"] == "p"
    assert config["command"] == [
        "${env}",
        "attnlab",
        "ablate",
        "s.yaml",
        "--profile",
        "quick",
        "--set",
        "trainer.max_epochs=3",
        "--storage",
        "sqlite:///o.db",
        "--wandb",
        "--wandb-project",
        "p",
        "${args}",
    ]
