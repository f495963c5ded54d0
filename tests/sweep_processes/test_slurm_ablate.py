"""``attnlab ablate --slurm`` against a real SLURM cluster: real array jobs, real worker processes, real signals.

Counts come from the storage (trials and their SLURM jobs), job states from ``sacct``. The study
lives in a folder outside /tmp: ``--slurm`` refuses a node-local storage, as it must.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml
from optuna.trial import FrozenTrial, TrialState
from slurm_cluster import SlurmCluster, slurm_cluster
from sweep_helpers import TINY_PROFILE, Tiny, metrics_files, wait_for

from attnlab.sweeps.store.attempts import CELL_ATTR, END_ATTR, SLURM_JOB_ATTR

__all__ = ["slurm_cluster"]

STUDY = "tiny@tiny-profile"


@pytest.fixture
def shared(slurm_cluster: SlurmCluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tiny]:
    """A tiny study in a folder that is not node-local (the home directory stands for a shared filesystem);
    the test's jobs are cancelled, and gone, before the folder is removed."""
    folder = Path(tempfile.mkdtemp(prefix="attnlab-slurm-test-", dir=Path.home()))
    monkeypatch.chdir(folder)
    profile = folder / "tiny-profile.yaml"
    profile.write_text(yaml.safe_dump(TINY_PROFILE, sort_keys=False))
    yield Tiny(folder, profile, str(folder / "runs" / "attnlab.journal"))
    slurm_cluster.run("scancel", "--user", "root")
    wait_for(lambda: not slurm_cluster.run("squeue", "-h").strip(), 60, "the test's jobs to end")
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
    lines = cluster.run("sacct", "-X", "-n", "-P", "-j", job, "-o", "JobID,State").splitlines()
    return dict(line.split("|") for line in lines)


@pytest.mark.slow
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


def _interrupted(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    return [trial for trial in trials if trial.system_attrs.get(END_ATTR) == "interrupted"]


def _lost(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    return [trial for trial in trials if trial.state == TrialState.FAIL and END_ATTR not in trial.system_attrs]


def _running_on(tiny: Tiny, task: str) -> FrozenTrial | None:
    """The cell trial array task ``task`` is training, once it is past its start (its record has a config)."""
    for trial in tiny.trials(STUDY):
        running = trial.state == TrialState.RUNNING and "attnlab.config" in trial.user_attrs
        if running and trial.system_attrs.get(SLURM_JOB_ATTR) == task:
            return trial
    return None


def _finished(tiny: Tiny, cells: int) -> bool:
    return sum(_complete(tiny.trials(STUDY)).values()) == cells


SLOW_CELLS = {"plain": {"model.attention.type": "none", "trainer.max_epochs": 10}, "cbam": {"trainer.max_epochs": 10}}


@pytest.mark.slow
def test_a_cancelled_task_leaves_its_cell_interrupted_and_the_other_worker_finishes_it(
    slurm_cluster: SlurmCluster, shared: Tiny
) -> None:
    study = shared.study(SLOW_CELLS, seeds=[0])
    job = _submit(shared, slurm_cluster, study, "--workers", "2")
    victim = wait_for(lambda: _running_on(shared, f"{job}_1"), 120, "task 1 to train a cell")
    slurm_cluster.run("scancel", f"{job}_1")
    wait_for(lambda: _finished(shared, 2), 240, "the other worker to finish the study")

    trials = shared.trials(STUDY)
    assert _complete(trials) == {"plain/seed0": 1, "cbam/seed0": 1}  # 0 lost, 0 trained twice
    interrupted = _interrupted(trials)
    assert [trial.number for trial in interrupted] == [victim.number]  # marked by the cancelled worker itself
    assert interrupted[0].user_attrs["attnlab.failure_reason"].startswith("interrupted")
    assert not _lost(trials)
    cell = victim.system_attrs[CELL_ATTR]
    finisher = next(t for t in trials if t.system_attrs[CELL_ATTR] == cell and t.state == TrialState.COMPLETE)
    assert finisher.system_attrs[SLURM_JOB_ATTR] == f"{job}_0"
    assert _states(slurm_cluster, job)[f"{job}_1"].startswith("CANCELLED")

    shown = shared.run(
        "status", STUDY, "--storage", shared.journal, "--slurm", "--format", "json", env=slurm_cluster.environment
    )
    status = json.loads(shown.stdout)
    assert status["counts"] == {"complete": 2, "failed": 0, "running": 0, "lost": 0, "interrupted": 0, "pending": 0}
    assert status["slurm_jobs"] == [job]
    assert {task["job"]: task["state"].split()[0] for task in status["slurm_tasks"]}[f"{job}_1"] == "CANCELLED"
    table = shared.run("status", STUDY, "--storage", shared.journal, "--slurm", env=slurm_cluster.environment).stdout
    row = next(line.split() for line in table.splitlines() if line.startswith(cell))
    assert row[1:3] == ["complete", "2"] and row[4] == f"{job}_0"  # whole rows in a pipe: state, attempts, job


@pytest.mark.slow
def test_a_requeued_task_comes_back_and_completes_the_study(slurm_cluster: SlurmCluster, shared: Tiny) -> None:
    study = shared.study(SLOW_CELLS, seeds=[0])
    job = _submit(shared, slurm_cluster, study, "--workers", "1")
    victim = wait_for(lambda: _running_on(shared, job), 120, "the task to train a cell")  # one worker: no array
    slurm_cluster.run("scontrol", "requeue", job)
    wait_for(lambda: _finished(shared, 2), 240, "the requeued task to finish the study")

    trials = shared.trials(STUDY)
    assert _complete(trials) == {"plain/seed0": 1, "cbam/seed0": 1}
    assert [trial.number for trial in _interrupted(trials)] == [victim.number]
    assert not _lost(trials)
    retried = [t for t in trials if t.system_attrs[CELL_ATTR] == victim.system_attrs[CELL_ATTR]]
    assert [t.state for t in retried] == [TrialState.FAIL, TrialState.COMPLETE]
    assert {t.system_attrs[SLURM_JOB_ATTR] for t in trials} == {job}  # the only worker: it came back
    history = slurm_cluster.run("sacct", "-D", "-X", "-n", "-P", "-j", job, "-o", "State").splitlines()
    assert "REQUEUED" in history


@pytest.mark.slow
def test_a_task_at_its_time_limit_requeues_and_resumes_its_cell_from_its_checkpoint(
    slurm_cluster: SlurmCluster, shared: Tiny
) -> None:
    study = shared.study({"long": {"trainer.max_epochs": 1000}}, seeds=[0])
    # SLURM may send the signal up to 60 s before --signal-delay says: with a 2-minute limit it still comes
    # 45 to 105 s into the job, after a few epochs (with 1 minute it could come before the first one)
    job = _submit(shared, slurm_cluster, study, "--workers", "1", "--time", "2", "--signal-delay", "15")
    resumed = wait_for(
        lambda: next(
            (t for t in shared.trials(STUDY) if t.user_attrs.get("attnlab.config", {}).get("ckpt_path")), None
        ),
        240,
        "the requeued task to resume the cell",
    )
    earlier = [trial for trial in shared.trials(STUDY) if trial.number < resumed.number]
    assert {trial.system_attrs[END_ATTR] for trial in earlier} == {"interrupted"}  # the signal's exit marked them
    checkpoint = Path(resumed.user_attrs["attnlab.config"]["ckpt_path"])
    assert checkpoint.name == "last.ckpt"
    assert checkpoint.parent.parent.name in {f"trial{trial.number}" for trial in earlier}
    started_at = torch.load(checkpoint, map_location="cpu", weights_only=False)["epoch"] + 1
    assert started_at > 0
    history = slurm_cluster.run("sacct", "-D", "-X", "-n", "-P", "-j", job, "-o", "State").splitlines()
    assert "REQUEUED" in history and "TIMEOUT" not in history  # requeued by the worker before the limit
    slurm_cluster.run("scancel", job)


def test_slurm_refuses_a_storage_other_nodes_cannot_reach(tiny: Tiny) -> None:
    study = tiny.study({"plain": {}}, seeds=[0])
    for storage in (str(tiny.folder / "s.journal"), f"sqlite:///{tiny.folder}/s.db", "postgresql://u@localhost/db"):
        done = tiny.run("ablate", str(study), "--profile", str(tiny.profile), "--storage", storage, "--slurm")
        assert done.returncode == 2
        error = done.stderr.strip()
        assert "\n" not in error and "use an RDB URL" in error and "shared filesystem" in error, error
    assert not (tiny.folder / "runs" / "slurm").exists()  # nothing was submitted


@pytest.mark.slow
def test_a_ddp_cell_inside_an_allocation_runs_its_ranks_as_one_slurm_step(
    slurm_cluster: SlurmCluster, shared: Tiny
) -> None:
    study = shared.study({"plain": {"model.attention.type": "none"}}, seeds=[0])
    job = _submit(shared, slurm_cluster, study, "--devices-per-trial", "2", "--wait")

    assert _complete(shared.trials(STUDY)) == {"plain/seed0": 1}
    steps = slurm_cluster.run("sacct", "-n", "-P", "-j", job, "-o", "JobID,NTasks,State").splitlines()
    ranks = [step for step in steps if step.split("|")[0] == f"{job}.1"]  # step 0 is the worker, 1 the DDP trial
    assert ranks and ranks[0].split("|")[1:] == ["2", "COMPLETED"], steps


@pytest.mark.slow
def test_a_search_runs_as_an_array_too_and_saves_its_best_config(slurm_cluster: SlurmCluster, shared: Tiny) -> None:
    search = {
        "name": "tiny-search",
        "profile": str(shared.profile),
        "space": {"model.optimizer.lr": {"type": "categorical", "choices": [0.1, 1.0e-9]}},
        "n_trials": 2,
        "metric": "val/loss",
        "sampler": {"name": "random", "seed": 0},
        "pruner": {"name": "none"},
    }
    path = shared.folder / "search.yaml"
    path.write_text(yaml.safe_dump(search, sort_keys=False))
    command = ["sweep", str(path), "-o", "best.yaml", "--storage", shared.journal, "--slurm", "--workers", "2"]
    done = shared.run(*command, "--time", "10", "--wait", env=slurm_cluster.environment)
    assert done.returncode == 0, done.stdout + done.stderr

    trials = shared.trials("tiny-search@tiny-profile")
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 2  # n_trials, over both array tasks
    job = re.search(r"submitted SLURM job (\d+)", done.stdout)[1]
    assert {t.system_attrs.get(SLURM_JOB_ATTR, "").split("_")[0] for t in trials} == {job}
    assert (shared.folder / "best.yaml").is_file()
