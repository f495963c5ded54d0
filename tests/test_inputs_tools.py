"""Tools we call (sbatch, torch.load) fail in one line, before the storage is touched where possible."""

from __future__ import annotations

import pickle
import stat
from pathlib import Path

import pytest
import torch

from attnlab.cli.main import main
from attnlab.errors import ConfigError
from attnlab.reports.explain_checkpoints import datamodule_settings, load_model
from attnlab.sweeps.cluster import slurm
from attnlab.sweeps.cluster.slurm_options import SlurmOptions
from attnlab.sweeps.local.options import LaunchOptions
from attnlab.sweeps.workers.worker_spec import WorkerSpec


def test_slurm_without_sbatch_on_the_path_is_refused_before_the_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(
            main(["ablate", "cbam-arrangement", "--slurm", "--storage", "postgresql://u@db.example.org/attnlab"])
        )
    assert exit_info.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--slurm: sbatch, srun, sacct not found on the PATH" in line
    assert list(tmp_path.iterdir()) == []  # no journal, no runs folder


def test_sbatch_refusing_the_job_is_one_line_with_its_own_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, script in {
        "sbatch": "echo 'sbatch: error: invalid partition specified: nope' >&2; exit 1",
        "srun": "",
    }.items():
        fake = bin_dir / tool
        fake.write_text(f"#!/bin/sh\n{script}\n")
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    spec = WorkerSpec(storage=str(tmp_path / "j.journal"), study="probe")
    with pytest.raises(ConfigError) as error:
        slurm.submit(spec, SlurmOptions(partition="nope"), LaunchOptions(), 1, storage=None, study_id=0)
    message = str(error.value)
    assert message == "--slurm: sbatch refused the job: sbatch: error: invalid partition specified: nope"
    assert capsys.readouterr().err == ""


class Payload:
    """What weights_only refuses to unpickle: an arbitrary class (its code never runs)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("payload ran",))


@pytest.mark.parametrize("read", [datamodule_settings, load_model])
def test_a_checkpoint_weights_only_refuses_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], read: object
) -> None:
    path = tmp_path / "best.ckpt"
    torch.save({"state_dict": {}, "datamodule_hyper_parameters": Payload()}, path)
    with pytest.raises(ConfigError, match=r"best.ckpt: is not a checkpoint torch.load\(weights_only=True\) accepts"):
        read(path)  # type: ignore[operator]
    assert "payload ran" not in capsys.readouterr().out


def test_a_torn_checkpoint_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "best.ckpt"
    path.write_bytes(pickle.dumps({"x": 1})[:5])
    with pytest.raises(ConfigError, match=r"best.ckpt: is not a checkpoint"):
        datamodule_settings(path)
