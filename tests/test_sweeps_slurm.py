"""``--slurm`` without a cluster: option checks, the storage reachability rule, array sizes, DDP rank launch, resume."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from attnlab.errors import ConfigError
from attnlab.sweeps.cluster.slurm import check_reachable, worker_count
from attnlab.sweeps.cluster.slurm_options import SlurmOptions, add_slurm_arguments, slurm_options, time_minutes
from attnlab.sweeps.local.options import LaunchOptions
from attnlab.sweeps.runs.resume import resume_override
from attnlab.sweeps.runs.slurm_steps import rank_launcher


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("90", 90), ("30:00", 30), ("0:30", 1), ("4:00:00", 240), ("1-12", 2160), ("2-00:30", 2910), ("0-0:0:59", 1)],
)
def test_slurm_time_limits_read_as_sbatch_reads_them(text: str, minutes: int) -> None:
    assert time_minutes(text) == minutes


@pytest.mark.parametrize("text", ["", "4h", "1:2:3:4", "-5", "0", "1-"])
def test_a_bad_time_limit_is_one_line_naming_the_forms(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--time .*(not a SLURM time|longer than 0)"):
        time_minutes(text)


def _parsed(*argv: str) -> SlurmOptions | None:
    parser = argparse.ArgumentParser()
    add_slurm_arguments(parser)
    return slurm_options(parser.parse_args(list(argv)))


def test_slurm_options_are_read_only_with_slurm_and_checked() -> None:
    assert _parsed("--partition", "gpu") is None
    options = _parsed("--slurm", "--time", "1:00:00", "--slurm-arg", "qos=high", "--slurm-arg", "mail_type=END")
    assert options.time_min == 60 and options.extra == {"qos": "high", "mail-type": "END"}
    with pytest.raises(ConfigError, match="--slurm-arg 'high': use KEY=VALUE"):
        _parsed("--slurm", "--slurm-arg", "high")
    with pytest.raises(ConfigError, match="--slurm-arg 'signal=USR1@90': attnlab sets --signal itself; use --signal-d"):
        _parsed("--slurm", "--slurm-arg", "signal=USR1@90")
    with pytest.raises(ConfigError, match="--signal-delay 120: must be between 0 and the time limit"):
        _parsed("--slurm", "--time", "1")
    with pytest.raises(ConfigError, match="--gpus-per-node: -1; use 0 or more"):
        _parsed("--slurm", "--gpus-per-node", "-1")


@pytest.mark.parametrize(
    "storage",
    [
        "/tmp/runs/a.journal",
        "/dev/shm/a.journal",
        "sqlite:////tmp/a.db",
        "sqlite:///:memory:",
        "sqlite://",
        "postgresql://me@localhost/db",
        "postgresql://me:secret@127.0.0.1:5432/db",
    ],
)
def test_storage_only_this_node_reaches_is_refused_in_one_line(storage: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_reachable(storage)
    message = str(refused.value)
    assert "\n" not in message and "secret" not in message
    assert message.endswith("use an RDB URL (postgresql://USER@HOST/DB) or a file on a shared filesystem")


@pytest.mark.parametrize(
    "storage", ["/home/me/runs/a.journal", "sqlite:////shared/a.db", "postgresql://me@db.example.org/attnlab"]
)
def test_storage_other_nodes_reach_is_accepted(storage: str) -> None:
    check_reachable(storage)


def test_one_array_task_per_device_group_never_more_than_the_cells_left() -> None:
    gpus = SlurmOptions(nodes=2, gpus_per_node=4)
    assert worker_count(gpus, LaunchOptions(), remaining=100) == 8
    assert worker_count(gpus, LaunchOptions(devices_per_trial=2), remaining=100) == 4
    assert worker_count(gpus, LaunchOptions(), remaining=3) == 3
    assert worker_count(SlurmOptions(), LaunchOptions(workers=5), remaining=100) == 5
    with pytest.raises(ConfigError, match="--devices-per-trial 3: does not divide --gpus-per-node 4"):
        worker_count(gpus, LaunchOptions(devices_per_trial=3), remaining=100)


def test_ddp_ranks_start_as_an_srun_step_only_where_lightning_sees_slurm(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLURM_NTASKS", "SLURM_JOB_NAME", "SLURM_CPUS_PER_TASK"):
        monkeypatch.delenv(name, raising=False)
    assert rank_launcher(2) == []
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "8")
    monkeypatch.setenv("SLURM_JOB_NAME", "attnlab-x")
    assert rank_launcher(2) == [
        "srun",
        "--overlap",
        "--nodes=1",
        "--ntasks=2",
        "--ntasks-per-node=2",
        "--cpus-per-task=4",
        "--kill-on-bad-exit=1",
    ]
    monkeypatch.setenv("SLURM_JOB_NAME", "interactive")  # Lightning ignores such an allocation: so do we
    assert rank_launcher(2) == []


def test_a_retried_cell_resumes_from_the_newest_earlier_attempts_last_checkpoint(tmp_path: Path) -> None:
    config = {"trainer": {"logger": {"init_args": {"save_dir": str(tmp_path), "name": "attnlab", "version": None}}}}
    cell = tmp_path / "attnlab" / "s@p" / "row" / "seed0"
    assert resume_override(config, "s@p", "row/seed0", 5) == {}
    for number in (1, 3, 7):
        (cell / f"trial{number}" / "checkpoints").mkdir(parents=True)
        torch.save({}, cell / f"trial{number}" / "checkpoints" / "last.ckpt")  # whole (a torn one is passed over)
    (cell / "trial4" / "checkpoints").mkdir(parents=True)  # an attempt that never finished an epoch
    assert resume_override(config, "s@p", "row/seed0", 5) == {"ckpt_path": str(cell / "trial3/checkpoints/last.ckpt")}
    assert resume_override(config, "s@p", "row/seed0", 1) == {}
    assert resume_override({"trainer": {"logger": False}}, "s@p", "row/seed0", 5) == {}  # no versioned log folder
