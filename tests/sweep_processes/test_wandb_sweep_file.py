"""``attnlab wandb-sweep``: the file passes W&B's own sweep schema, and its command trains one cell as one run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from optuna.trial import TrialState
from sweep_helpers import Tiny
from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

from attnlab.reports.sources.wandb_log import read_run, run_files

sweeps = pytest.importorskip(
    "sweeps", reason="W&B's sweep schema ships in wandb[sweeps] (pip install --no-deps sweeps jsonschema jsonref)"
)


def _agent_command(command: list[str], cell: str) -> list[str]:
    """What ``wandb agent`` runs for one grid point: its macros filled in by wandb's own helper."""
    values = {"env": ["/usr/bin/env"], **create_sweep_command_args({"args": {"cell": {"value": cell}}})}
    return [part for chunk in command for part in (values[chunk[2:-1]] if chunk.startswith("${") else [chunk])]


@pytest.mark.slow
def test_the_sweep_file_is_valid_and_its_command_trains_one_cell_as_one_offline_run(tiny: Tiny) -> None:
    study = tiny.study({"plain": {"model.attention.type": "none"}, "cbam": {}}, seeds=[0, 1])
    written = tiny.run("wandb-sweep", str(study), "--profile", str(tiny.profile), "--set", "trainer.max_epochs=1")
    assert written.returncode == 0, written.stderr
    config = yaml.safe_load((tiny.folder / "sweep.yaml").read_text())
    assert sweeps.schema_violations_from_proposed_config(config) == []
    assert config["method"] == "grid" and config["metric"] == {"name": "test/top1_err", "goal": "minimize"}
    assert config["parameters"]["cell"]["values"] == ["plain/seed0", "cbam/seed0", "plain/seed1", "cbam/seed1"]

    wandb_dir = tiny.folder / "wandb-runs"
    wandb_dir.mkdir()
    environment = {
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(wandb_dir),
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}",  # where `attnlab` is
    }
    done = subprocess.run(
        _agent_command(config["command"], "cbam/seed1"),
        cwd=tiny.folder,
        env=os.environ | environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    (run_file,) = run_files(wandb_dir)  # exactly one W&B run
    run = read_run(run_file)
    assert (run.name, run.group, run.state) == ("cbam/seed1", "tiny", "finished")
    expected = {"study": "tiny", "row": "cbam", "seed": 1, "axes": {}, "profile": str(tiny.profile)}
    assert run.config["attnlab"] == expected
    assert run.config["model"]["attention"]["type"] == "cbam" and run.config["trainer"]["max_epochs"] == 1
    assert 0 <= run.summary["test/top1_err"] <= 100
    (trial,) = tiny.trials("tiny@tiny-profile")  # and the Optuna storage knows that cell is done
    assert trial.state == TrialState.COMPLETE and trial.user_attrs["attnlab.row"] == "cbam"
