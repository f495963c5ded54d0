"""``attnlab ablate --slurm`` against a real SLURM cluster: real array jobs, real worker processes, real signals.

Counts come from the storage (trials and their SLURM jobs), job states from ``sacct``. The study
lives in a folder outside /tmp: ``--slurm`` refuses a node-local storage, as it must.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from optuna.trial import FrozenTrial, TrialState
from slurm_cluster import SlurmCluster, slurm_cluster
from sweep_helpers import TINY_PROFILE, Tiny, metrics_files, wait_for

from attnlab.sweeps.attempts import CELL_ATTR, END_ATTR, SLURM_JOB_ATTR

__all__ = ["slurm_cluster"]

STUDY = "tiny@tiny-profile"
pytestmark = pytest.mark.slow


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tiny]:
    """A tiny study in a folder that is not node-local (the home directory stands for a shared filesystem)."""
    folder = Path(tempfile.mkdtemp(prefix="attnlab-slurm-test-", dir=Path.home()))
    monkeypatch.chdir(folder)
    profile = folder / "tiny-profile.yaml"
    profile.write_text(yaml.safe_dump(TINY_PROFILE, sort_keys=False))
    yield Tiny(folder, profile, str(folder / "runs" / "attnlab.journal"))
    shutil.rmtree(folder, ignore_errors=True)


def _submit(tiny: Tiny, cluster: SlurmCluster, study: Path, *options: str) -> str:
    """Runs ``attnlab ablate --slurm``; the array job id it printed."""
    command = ["ablate", str(study), "--profile", str(tiny.profile), "--storage", tiny.journal, "--slurm"]
    done = tiny.run(*command, "--time", "10", *options, env=cluster.environment)
    assert done.returncode == 0, done.stdout + done.stderr
    return re.search(r"submitted SLURM job (\d+)", done.stdout)[1]


def _complete(trials: list[FrozenTrial]) -> Counter:
    return Counter(trial.system_attrs[CELL_ATTR] for trial in trials if trial.state == TrialState.COMPLETE)


def _states(cluster: SlurmCluster, job: str) -> dict[str, str]:
    """Every array task's state and requeue count, from the accounting (``sacct``)."""
    lines = cluster.run("sacct", "-X", "-n", "-P", "-j", job, "-o", "JobID,State").split()
    return dict(line.split("|") for line in lines)


def test_an_array_of_two_workers_trains_every_cell_exactly_once(slurm_cluster: SlurmCluster, shared: Tiny) -> None:
    study = shared.study({"plain": {"model.attention.type": "none"}, "cbam": {}}, seeds=[0, 1])
    job = _submit(shared, slurm_cluster, study, "--workers", "2", "--wait")

    trials = shared.trials(STUDY)
    assert _complete(trials) == {"plain/seed0": 1, "plain/seed1": 1, "cbam/seed0": 1, "cbam/seed1": 1}
    assert len(metrics_files(shared.folder, STUDY)) == 4  # four trainings, one per cell
    trained_by = {trial.system_attrs[SLURM_JOB_ATTR] for trial in trials if trial.state == TrialState.COMPLETE}
    assert trained_by == {f"{job}_0", f"{job}_1"}  # both array tasks trained
    wait_for(lambda: set(_states(slurm_cluster, job).values()) == {"COMPLETED"}, 60, "both tasks to complete")
    assert set(_states(slurm_cluster, job)) == {f"{job}_0", f"{job}_1"}
