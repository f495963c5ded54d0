"""Where workers run: one per device group on GPUs (pinned with CUDA_VISIBLE_DEVICES), or on disjoint cores on CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass

from attnlab.errors import ConfigError


@dataclass(frozen=True)
class Placement:
    """The workers of one launcher: each one's visible GPUs (empty on CPU) and its torch threads on CPU."""

    gpu_groups: tuple[tuple[str, ...], ...]  # one entry per worker; () for a CPU worker
    threads: int | None  # per worker, on CPU; None on GPUs
    cpus: tuple[int, ...] = ()  # the CPUs the launcher may use: CPU workers get disjoint slices of them

    @property
    def workers(self) -> int:
        return len(self.gpu_groups)

    def environment(self, slot: int) -> dict[str, str]:
        """What worker ``slot`` starts with: its GPUs, or its share of the CPU threads."""
        group = self.gpu_groups[slot]
        if group:
            return {"CUDA_VISIBLE_DEVICES": ",".join(group)}
        return {"OMP_NUM_THREADS": str(self.threads)}

    def cpus_of(self, slot: int) -> list[int] | None:
        """The cores CPU worker ``slot`` is pinned to, its own (None on GPUs: their workers are not pinned)."""
        share = len(self.cpus) // self.workers  # its threads, times its DDP processes
        if self.threads is None or share == 0:
            return None
        return list(self.cpus[slot * share : (slot + 1) * share])

    def limited_to(self, workers: int) -> Placement:
        """The first ``workers`` workers only (there is less work than workers)."""
        return Placement(self.gpu_groups[: max(1, workers)], self.threads, self.cpus)


def _visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES names them (indices, or UUIDs)."""
    import torch

    count = torch.cuda.device_count()
    named = [name.strip() for name in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if name.strip()]
    return named[:count] if named else [str(index) for index in range(count)]


def _parse_devices(text: str, visible: list[str]) -> list[str]:
    """``"0,2"`` (indices among the visible GPUs) -> their CUDA_VISIBLE_DEVICES names."""
    if not visible:
        raise ConfigError(f"--devices {text}: no CUDA device is visible here; on CPU use --workers N")
    indices = []
    for item in text.split(","):
        if not item.strip().isdigit() or int(item) >= len(visible):
            raise ConfigError(f"--devices {text}: {item.strip()!r} is not a GPU index; valid: 0 to {len(visible) - 1}")
        indices.append(int(item))
    if len(set(indices)) != len(indices):
        raise ConfigError(f"--devices {text}: lists a GPU twice")
    return [visible[index] for index in indices]


def plan_placement(workers: int | None, devices: str | None, devices_per_trial: int) -> Placement:
    """One worker per group of ``devices_per_trial`` GPUs (all visible by default), else ``workers`` CPU workers."""
    if devices_per_trial < 1:
        raise ConfigError(f"--devices-per-trial: {devices_per_trial}; use 1 or more")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: {workers}; use 1 or more")
    visible = _visible_gpus()
    chosen = _parse_devices(devices, visible) if devices is not None else visible
    if not chosen:
        from attnlab.training.threads import thread_limit  # here: the training package imports Lightning

        cores = sorted(os.sched_getaffinity(0))
        count = workers or 1
        if devices_per_trial > len(cores):
            raise ConfigError(
                f"--devices-per-trial {devices_per_trial}: no GPU here, so each trial would run that many CPU "
                f"processes; use 1 to {len(cores)} (the cores available)"
            )
        threads = min(max(1, len(cores) // (count * devices_per_trial)), thread_limit() or len(cores))
        return Placement(((),) * count, threads, tuple(cores))
    if len(chosen) % devices_per_trial:
        raise ConfigError(
            f"--devices-per-trial {devices_per_trial}: does not divide the {len(chosen)} GPUs ({','.join(chosen)})"
        )
    groups = [tuple(chosen[i : i + devices_per_trial]) for i in range(0, len(chosen), devices_per_trial)]
    if workers is not None and workers > len(groups):
        raise ConfigError(
            f"--workers {workers}: needs {workers * devices_per_trial} GPUs at {devices_per_trial} per trial; "
            f"{len(chosen)} available ({','.join(chosen)})"
        )
    return Placement(tuple(groups[: workers or len(groups)]), None)
