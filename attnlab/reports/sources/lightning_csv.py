"""Cells from plain ``attnlab train`` runs: Lightning CSVLogger folders with ``metrics.csv`` and ``config.yaml``.

Such runs carry no study, so rows are inferred: runs whose model (backbone, attention, recipe)
and dataset agree form one row, the seed is ``seed_everything``, and the row is named after the
config fields that differ between rows (``cbam``, or ``kernel_size=3, type=cbam``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from attnlab.errors import ConfigError
from attnlab.reports.spec import LoadedStudy, StudySpec
from attnlab.sweeps.store.records import CellRecord

METRICS_FILE = "metrics.csv"
CONFIG_FILE = "config.yaml"
_INDEX_COLUMNS = ("epoch", "step")
_TYPE_KEY = "model.attention.type"


@dataclass(frozen=True)
class CsvRun:
    """One run folder: its config, the last logged value of each metric, and its design fields."""

    folder: Path
    config: dict[str, Any]
    seed: int
    metrics: dict[str, float]
    design: dict[str, str]  # dotted key -> value as compact JSON (comparable, hashable)


def _flatten(tree: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}.{key}"
        flat |= _flatten(value, dotted) if isinstance(value, Mapping) else {dotted: value}
    return flat


def _last_values(path: Path) -> dict[str, float]:
    """The last logged value of each metric (rows log different metrics at different steps)."""
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not a Lightning CSVLogger metrics file ({str(error).splitlines()[0]})") from error
    values = {}
    for column in frame.columns:
        logged = pd.to_numeric(frame[column], errors="coerce").dropna()
        if column not in _INDEX_COLUMNS and len(logged):
            values[column] = float(logged.iloc[-1])
    return values


def read_run(folder: Path) -> CsvRun:
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"{folder}: has {METRICS_FILE} but no {CONFIG_FILE}; attnlab train writes both")
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{config_path}: not valid YAML ({str(error).splitlines()[0]})") from error
    if not isinstance(config, dict) or not isinstance(config.get("model"), Mapping):
        raise ConfigError(f"{config_path}: expected a LightningCLI config with a 'model' section")
    seed = config.get("seed_everything")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"{config_path}: seed_everything must be an integer seed, got {seed!r}")
    design = _flatten(config["model"], "model")
    data = config.get("data")
    if isinstance(data, Mapping) and "class_path" in data:
        design["data.class_path"] = data["class_path"]
    comparable = {key: json.dumps(value, sort_keys=True) for key, value in design.items()}
    return CsvRun(folder, config, seed, _last_values(folder / METRICS_FILE), comparable)


def _differing_keys(runs: list[CsvRun]) -> list[str]:
    keys = sorted({key for run in runs for key in run.design})
    return [key for key in keys if len({run.design.get(key) for run in runs}) > 1]


def _labels(keys: list[str]) -> dict[str, str]:
    """Short labels for config keys: the last part, or the key without ``model.`` where last parts clash."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {key: last[i] if last.count(last[i]) == 1 else key.removeprefix("model.") for i, key in enumerate(keys)}


def _row_name(run: CsvRun, axes: dict[str, Any], labels: dict[str, str]) -> str:
    if not axes:
        return str(json.loads(run.design.get(_TYPE_KEY, '"all runs"')))
    values = list(axes.values())
    if len(values) == 1 and isinstance(values[0], str):
        return values[0]
    return ", ".join(
        f"{labels[key]}={value if isinstance(value, str) else json.dumps(value)}" for key, value in axes.items()
    )


def _record(run: CsvRun, study: str, row: str, axes: dict[str, Any], metric: str) -> CellRecord:
    metrics = run.metrics
    gmacs = metrics.get("cost/gmacs")
    complete = not math.isnan(metrics.get(metric, math.nan))
    return CellRecord(
        study=study,
        row=row,
        seed=run.seed,
        axes=axes,
        config=run.config,
        metrics=metrics,
        params=None if "cost/params" not in metrics else int(metrics["cost/params"]),
        macs=None if gmacs is None else round(gmacs * 1e9),
        train_images_per_s=metrics.get("cost/train_images_per_s"),
        peak_memory_mb=metrics.get("cost/peak_memory_mb"),
        state="complete" if complete else "running",
        failure_reason=None if complete else f"{run.folder}: no {metric} logged yet (still running, or stopped)",
    )


def load_from_csv_logs(directory: Path, study: str, metric: str) -> LoadedStudy:
    """Every run folder under ``directory`` (``--logs``), grouped into rows by design."""
    if not directory.is_dir():
        raise ConfigError(f"--logs {directory}: not a directory; pass the folder attnlab train logged into")
    folders = sorted(path.parent for path in directory.rglob(METRICS_FILE))
    if not folders:
        raise ConfigError(f"--logs {directory}: no {METRICS_FILE} under it (Lightning CSVLogger version_N folders)")
    runs = [read_run(folder) for folder in folders]
    differing = _differing_keys(runs)
    labels = _labels(differing)
    records = []
    for run in runs:
        axes = {key: json.loads(run.design.get(key, "null")) for key in differing}
        records.append(_record(run, study, _row_name(run, axes, labels), axes, metric))
    spec = StudySpec.from_records(study, None, records)
    return LoadedStudy(spec=spec, records=records, source=f"{len(runs)} CSV log folders under {directory}")
