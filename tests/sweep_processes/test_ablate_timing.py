"""What a study records so reruns and time columns are comparable: each cell's device and threads, and one
side-by-side step timing of the rows per device kind, which the report's time overhead comes from."""

from __future__ import annotations

import csv
import json

import optuna
from sweep_helpers import Tiny

from attnlab.sweeps.store.records import STEP_TIMING_ATTR, CellRecord, StepTiming
from attnlab.sweeps.store.storage import open_storage
from attnlab.sweeps.workers.cell_worker import study_cells
from attnlab.sweeps.workers.step_times import ensure_step_timing
from attnlab.sweeps.workers.worker_spec import WorkerContext, WorkerSpec

STUDY = "tiny@tiny-profile"


def test_cells_record_device_and_threads_and_the_study_its_step_timing(tiny: Tiny) -> None:
    study = tiny.study({"plain": {"model.attention.type": "none"}, "cbam": {}}, seeds=[0, 1])
    done = tiny.run("ablate", str(study), "--profile", str(tiny.profile), "--storage", tiny.journal, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr

    trials = tiny.trials(STUDY)
    records = [CellRecord.from_user_attrs(t.user_attrs, "complete") for t in trials if "attnlab.row" in t.user_attrs]
    assert len(records) == 4
    assert {(record.device or "").split(":")[0] for record in records} == {"cpu"}
    assert {record.threads for record in records} == {1}  # OMP_NUM_THREADS=1 (conftest) caps the worker

    stored = study_attrs(tiny)[STEP_TIMING_ATTR]
    assert list(stored) == [records[0].device]  # one measurement, on the device the cells trained on
    timing = StepTiming.from_dict(stored[records[0].device])
    assert set(timing.seconds) == {"plain", "cbam"} and all(seconds > 0 for seconds in timing.seconds.values())
    assert (timing.batch_size, timing.input_shape, timing.threads) == (32, (1, 16, 16), 1)

    context = WorkerContext.open(WorkerSpec(storage=tiny.journal, study=STUDY))
    ensure_step_timing(context, list(study_cells(context).values()))
    assert study_attrs(tiny)[STEP_TIMING_ATTR] == stored  # taken once per study and device kind

    report = tiny.run("report", "tiny", "--profile", str(tiny.profile), "--storage", tiny.journal, "-o", "out")
    assert report.returncode == 0, report.stdout + report.stderr
    overhead = f"{(timing.ratio('cbam', 'plain') - 1) * 100:+.0f}%"
    cbam_line = next(line for line in report.stdout.splitlines() if line.startswith("| cbam "))
    assert f"| {overhead} |" in cbam_line
    assert f"rows interleaved in one process on {timing.device}, 1 thread, median of 15 rounds" in report.stdout
    with (tiny.folder / "out" / "cells.csv").open() as cells:
        rows = list(csv.DictReader(cells))
    assert {(row["device"], row["threads"]) for row in rows} == {(records[0].device, "1")}
    payload = json.loads((tiny.folder / "out" / "summary.json").read_text())
    assert payload["step_timing"]["seconds"] == timing.seconds


def study_attrs(tiny: Tiny) -> dict:
    return optuna.load_study(study_name=STUDY, storage=open_storage(tiny.journal)).user_attrs
