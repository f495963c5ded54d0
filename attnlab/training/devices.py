"""Names for the hardware a run used, so results (and timings) are only compared between runs on the same kind."""

from __future__ import annotations

import platform

import torch


def device_label(device: torch.device) -> str:
    """What a device is, as runs on it should be grouped: ``cuda: NVIDIA H200``, ``cpu: Intel(R) Xeon(R) ...``."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"{device.type}: {_cpu_model() or platform.machine()}"


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    except OSError:
        return None
    return names[0] if names else None
