"""From a claimed trial to its training arguments, and from the training's outcome to the trial's record.

Shared by the two kinds of work a worker does (a study's cells, a search's trials): both train
``["--config", PROFILE] + overrides`` with the worker's device settings, and both store a
:class:`~attnlab.sweeps.store.records.CellRecord` that reports rebuild tables from.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from optuna.storages import BaseStorage

from attnlab.sweeps.runs.execution import Outcome
from attnlab.sweeps.store.records import CellRecord
from attnlab.sweeps.store.storage import set_trial_user_attrs

RECORD_STATES = {"complete": "complete", "failed": "failed", "pruned": "pruned"}


def device_overrides(devices_per_trial: int) -> dict[str, Any]:
    """What the worker decides for every run: its devices, DDP across several, no per-run progress bar."""
    overrides: dict[str, Any] = {"trainer.devices": devices_per_trial, "trainer.enable_progress_bar": False}
    if devices_per_trial > 1:
        overrides["trainer.strategy"] = "ddp"
    return overrides


def log_version_override(config: Mapping[str, Any], version: str) -> dict[str, Any]:
    """Names the run's log folder after the trial when the config's logger takes a version (CSV, TensorBoard).

    Without it, workers starting together would pick the same next ``version_N`` folder.
    """
    logger = config.get("trainer", {}).get("logger")
    if isinstance(logger, Mapping) and "version" in (logger.get("init_args") or {}):
        return {"trainer.logger.init_args.version": version}
    return {}


def train_args(profile_file: str, overrides: Mapping[str, Any]) -> list[str]:
    """The ``attnlab train`` arguments of a run: the profile, then the overrides in order."""
    from attnlab.training import overrides_to_args

    return ["--config", profile_file, *overrides_to_args(overrides)]


def write_record(storage: BaseStorage, trial_id: int, record: CellRecord, previous: CellRecord | None = None) -> None:
    """Stores ``record`` in the trial's user attributes, the fields changed since ``previous``, in one operation."""
    before = previous.to_user_attrs() if previous is not None else {}
    changed = {key: value for key, value in record.to_user_attrs().items() if key not in before or before[key] != value}
    set_trial_user_attrs(storage, trial_id, changed)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def finished_record(record: CellRecord, outcome: Outcome, metric: str) -> tuple[CellRecord, float | None]:
    """The record once trained, and the trial's objective value (None unless complete with a finite ``metric``)."""
    if outcome.state != "complete" or outcome.result is None:
        return dataclasses.replace(record, state=RECORD_STATES[outcome.state], failure_reason=outcome.reason), None
    result = outcome.result
    done = dataclasses.replace(
        record,
        state="complete",
        config=result["config"] or record.config,
        metrics=dict(result["metrics"]),
        params=result["params"],
        macs=result["macs"],
        train_images_per_s=result["train_images_per_s"],
        peak_memory_mb=result["peak_memory_mb"],
        wall_time_s=result["wall_time_s"],
        device=result.get("device"),
        threads=result.get("threads"),
    )
    value = done.metrics.get(metric)
    if _finite(value):
        return done, float(value)
    logged = ", ".join(sorted(done.metrics)) or "none"
    reason = f"metric {metric} was not logged as a finite number (logged: {logged})"
    return dataclasses.replace(done, state="failed", failure_reason=reason), None
