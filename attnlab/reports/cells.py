"""One table row per cell (row x seed): the shared shape every source is converted into.

Cells the study expects but no source has are rows with state ``missing``; a cell tried more than
once (a retry after a dead worker, a re-run) keeps its most useful attempt and counts the attempts,
so failures stay visible instead of being averaged away or dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from attnlab.reports.spec import METRIC_PREFIXES, StudySpec
from attnlab.sweeps.store.records import CellRecord

MISSING = "missing"
COMPLETE = "complete"
# Which attempt of a cell represents it: a finished one beats one in flight beats a failure.
STATE_PRIORITY: dict[str, int] = {COMPLETE: 0, "running": 1, "waiting": 2, "pruned": 3, "failed": 4}
STATES: tuple[str, ...] = (*STATE_PRIORITY, MISSING)

AXIS_PREFIX = "axis:"
CELL_COLUMNS: tuple[str, ...] = (
    "row",
    "seed",
    "cell",
    "state",
    "attempts",
    "params",
    "gmacs",
    "train_images_per_s",
    "peak_memory_mb",
    "wall_time_s",
    "device",
    "threads",
    "failure_reason",
)


def _axis_value(value: Any) -> Any:
    """Scalars as they are; lists and mappings as JSON text, so cells can be grouped and written to CSV."""
    return value if value is None or isinstance(value, str | int | float | bool) else json.dumps(value)


def _best_attempt(attempts: list[CellRecord]) -> CellRecord:
    """The attempt that stands for the cell: the best state, the latest among equals."""
    return min(reversed(attempts), key=lambda record: STATE_PRIORITY.get(record.state, len(STATE_PRIORITY)))


def _cell_row(record: CellRecord, attempts: int) -> dict[str, Any]:
    metrics = {key: value for key, value in record.metrics.items() if key.startswith(METRIC_PREFIXES)}
    return {
        "row": record.row,
        "seed": record.seed,
        "cell": record.cell,
        "state": record.state,
        "attempts": attempts,
        "params": record.params,
        "gmacs": None if record.macs is None else record.macs / 1e9,
        "train_images_per_s": record.train_images_per_s,
        "peak_memory_mb": record.peak_memory_mb,
        "wall_time_s": record.wall_time_s,
        "device": record.device,
        "threads": record.threads,
        "failure_reason": record.failure_reason,
        **{AXIS_PREFIX + axis: _axis_value(value) for axis, value in record.axes.items()},
        **metrics,
    }


def cell_frame(records: Iterable[CellRecord], spec: StudySpec) -> pd.DataFrame:
    """Every expected cell of ``spec`` (plus any extra the records have), in row then seed order."""
    by_cell: dict[tuple[str, int], list[CellRecord]] = {}
    for record in records:
        by_cell.setdefault((record.row, record.seed), []).append(record)
    rows = []
    for row in spec.rows:
        for seed in spec.seeds:
            attempts = by_cell.get((row, seed), [])
            if attempts:
                rows.append(_cell_row(_best_attempt(attempts), len(attempts)))
            else:
                rows.append({"row": row, "seed": seed, "cell": f"{row}/seed{seed}", "state": MISSING, "attempts": 0})
    frame = pd.DataFrame(rows)
    extra = [column for column in frame.columns if column not in CELL_COLUMNS]
    axes = [column for column in extra if column.startswith(AXIS_PREFIX)]
    # The compared metric always has a column, even before any cell has logged it.
    metrics = sorted({spec.metric, *(column for column in extra if not column.startswith(AXIS_PREFIX))})
    frame = frame.reindex(columns=[*CELL_COLUMNS, *axes, *metrics])
    numeric = ["params", "gmacs", "train_images_per_s", "peak_memory_mb", "wall_time_s", *metrics]
    frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
    return frame


def unfinished_text(counts: Mapping[str, int]) -> str:
    """``1 running, 2 missing``: the cells per state other than complete, for status lines."""
    return ", ".join(f"{counts[state]} {state}" for state in STATES if state != COMPLETE and counts.get(state, 0))


def metric_columns(cells: pd.DataFrame) -> list[str]:
    """The logged metric names present in a cell frame (e.g. ``test/top1_err``)."""
    return [column for column in cells.columns if column.startswith(METRIC_PREFIXES)]
