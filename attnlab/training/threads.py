"""How many CPU threads a training uses: the CPUs this process may use that are not busy already.

PyTorch sizes its thread pool by the CPUs it is allowed on, whatever else runs there. On a shared
machine that collapses throughput: a tiny model's every operation waits at OpenMP's barrier for the
thread that shares its core with someone else's busy loop (10-20x slower; see
``benchmarks/cpu_threads.py``). So a training takes at most the CPUs of its affinity mask (what a
launcher, ``taskset`` or SLURM gives it) and ``OMP_NUM_THREADS`` where set, and of those only the
ones idle when it starts (measured over a fraction of a second), at least one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from pathlib import Path

IDLE_WINDOW_S = 0.25  # how long the CPUs' idle time is sampled before a training starts
IDLE_SHARE = 0.5  # a CPU idle at least this share of the window counts as free
_PROC_STAT = Path("/proc/stat")


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity mask)."""
    return sorted(os.sched_getaffinity(0))


def thread_limit() -> int | None:
    """``OMP_NUM_THREADS`` where set to a positive number: the share of the machine this process was given."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def _cpu_times() -> dict[int, tuple[int, int]]:
    """CPU -> (idle ticks, total ticks) since boot, from /proc/stat (Linux)."""
    times = {}
    for line in _PROC_STAT.read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            ticks = [int(field) for field in fields]
            times[int(name[3:])] = (ticks[3] + ticks[4], sum(ticks[:8]))  # idle + iowait; all but guest time
    return times


def idle_cpus(cpus: Collection[int], window_s: float = IDLE_WINDOW_S) -> int:
    """How many of ``cpus`` were idle at least :data:`IDLE_SHARE` of the next ``window_s`` seconds."""
    if not _PROC_STAT.is_file():
        return len(cpus)
    before = _cpu_times()
    time.sleep(window_s)
    after = _cpu_times()
    free = 0
    for cpu in cpus:
        if cpu not in before or cpu not in after:
            continue
        idle, total = (now - then for now, then in zip(after[cpu], before[cpu], strict=True))
        free += total > 0 and idle / total >= IDLE_SHARE
    return free


def choose_threads() -> int:
    """The thread count for a training starting now (see the module's description)."""
    cpus = usable_cpus()
    limit = thread_limit()
    wanted = min(len(cpus), limit) if limit is not None else len(cpus)
    if wanted == 1:
        return 1
    return max(1, min(wanted, idle_cpus(cpus)))


def fit_threads() -> int:
    """Sets torch's intra-op threads to :func:`choose_threads` (CPU compute only); returns the count."""
    import torch

    threads = choose_threads()
    torch.set_num_threads(threads)
    return threads
