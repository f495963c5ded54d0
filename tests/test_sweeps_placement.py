"""Workers on devices: one per GPU group pinned with CUDA_VISIBLE_DEVICES, or the CPU cores split between them."""

from __future__ import annotations

import os
import re

import pytest

from attnlab.errors import ConfigError
from attnlab.sweeps.local import placement as placement_module
from attnlab.sweeps.local.placement import plan_placement


@pytest.fixture
def four_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if this machine showed four GPUs, of which CUDA_VISIBLE_DEVICES lets it use 4-7."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    monkeypatch.setattr(placement_module, "_visible_gpus", lambda: ["4", "5", "6", "7"])


def test_cpu_workers_split_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placement_module, "_visible_gpus", list)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    placement = plan_placement(workers=2, devices=None, devices_per_trial=1)
    assert placement.workers == 2 and placement.threads == 4
    assert placement.environment(1) == {"OMP_NUM_THREADS": "4"}
    assert plan_placement(workers=None, devices=None, devices_per_trial=2).threads == 4  # 1 worker, 2 DDP ranks
    assert plan_placement(workers=16, devices=None, devices_per_trial=1).threads == 1
    assert plan_placement(workers=2, devices=None, devices_per_trial=1).limited_to(1).workers == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the launcher's share of a machine others use too
    assert plan_placement(workers=1, devices=None, devices_per_trial=1).threads == 1


@pytest.mark.usefixtures("four_gpus")
def test_one_worker_per_gpu_group_pinned_to_its_devices() -> None:
    every = plan_placement(workers=None, devices=None, devices_per_trial=1)
    assert [every.environment(slot)["CUDA_VISIBLE_DEVICES"] for slot in range(every.workers)] == ["4", "5", "6", "7"]
    pairs = plan_placement(workers=None, devices="0,1,2,3", devices_per_trial=2)
    assert pairs.gpu_groups == (("4", "5"), ("6", "7")) and pairs.threads is None
    assert plan_placement(workers=1, devices="3,1", devices_per_trial=2).gpu_groups == (("7", "5"),)


@pytest.mark.usefixtures("four_gpus")
@pytest.mark.parametrize(
    ("workers", "devices", "per_trial", "message"),
    [
        (None, "0,4", 1, "'4' is not a GPU index; valid: 0 to 3"),
        (None, "0,0", 1, "lists a GPU twice"),
        (None, "0,1,2", 2, "--devices-per-trial 2: does not divide the 3 GPUs"),
        (3, None, 2, "--workers 3: needs 6 GPUs at 2 per trial; 4 available"),
        (None, None, 0, "--devices-per-trial: 0"),
        (0, None, 1, "--workers: 0"),
    ],
)
def test_impossible_placements_are_refused(
    workers: int | None, devices: str | None, per_trial: int, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        plan_placement(workers, devices, per_trial)


def test_devices_without_gpus_point_to_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placement_module, "_visible_gpus", list)
    with pytest.raises(ConfigError, match="no CUDA device is visible here; on CPU use --workers N"):
        plan_placement(None, "0", 1)
