"""Training threads follow the CPUs a process may use and that are free; sibling workers get disjoint cores."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from attnlab.sweeps.local import placement as placement_module
from attnlab.sweeps.local.placement import plan_placement
from attnlab.training import threads as threads_module
from attnlab.training.threads import choose_threads, idle_cpus

TWO_CPUS = len(os.sched_getaffinity(0)) >= 2
PROBE = """
import os, torch
from attnlab.training.threads import fit_threads
for cpus, omp in (({1}, None), ({1}, "8"), ({0, 1}, "1")):
    os.sched_setaffinity(0, cpus)
    os.environ.pop("OMP_NUM_THREADS", None) if omp is None else os.environ.update(OMP_NUM_THREADS=omp)
    print(fit_threads(), torch.get_num_threads())
"""


@pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs to restrict a process to one of them")
def test_a_process_pinned_to_one_cpu_or_told_one_thread_trains_on_one_thread() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1", "1"] * 3  # pinned to one CPU; even with OMP_NUM_THREADS=8; told one


def test_threads_are_the_allowed_cpus_that_are_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_module, "usable_cpus", lambda: [0, 1, 2, 3])
    monkeypatch.setattr(threads_module, "idle_cpus", lambda cpus: 3)  # someone's busy loop holds one
    assert choose_threads() == 3
    monkeypatch.setattr(threads_module, "idle_cpus", lambda cpus: 0)  # all busy: still one thread
    assert choose_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(threads_module, "idle_cpus", lambda cpus: 4)
    assert choose_threads() == 2


def test_a_cpu_running_a_busy_loop_is_not_counted_free() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "import os; os.sched_setaffinity(0, {0})\nwhile True: pass"])
    try:
        assert idle_cpus([0], window_s=0.5) == 0
    finally:
        busy.kill()
        busy.wait()


def test_cpu_workers_get_disjoint_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placement_module, "_visible_gpus", list)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {2, 3, 5, 7, 8, 9})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the tests' own cap of 1 would set every share
    two = plan_placement(workers=2, devices=None, devices_per_trial=1)
    assert (two.cpus_of(0), two.cpus_of(1), two.threads) == ([2, 3, 5], [7, 8, 9], 3)
    ddp = plan_placement(workers=None, devices=None, devices_per_trial=2)
    assert (ddp.cpus_of(0), ddp.threads) == ([2, 3, 5, 7, 8, 9], 3)  # its two ranks share its cores
    assert plan_placement(workers=12, devices=None, devices_per_trial=1).cpus_of(0) is None  # fewer cores than workers
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # a launcher told to use 2 threads gives its workers no more
    assert plan_placement(workers=2, devices=None, devices_per_trial=1).threads == 2
