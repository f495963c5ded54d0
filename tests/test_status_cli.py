"""``attnlab status``: each cell's state from its attempts in the storage, as a whole table in a pipe or as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from optuna.trial import TrialState, create_trial
from test_pipe_output import _line_with, _piped

from attnlab.ablations import load_study
from attnlab.cli.main import main
from attnlab.sweeps.cluster.slurm import SLURM_JOBS_ATTR
from attnlab.sweeps.store.attempts import CELL_ATTR, END_ATTR, FAILURE_REASON_ATTR, SLURM_JOB_ATTR, WORKER_ATTR
from attnlab.sweeps.store.settings import open_study
from attnlab.sweeps.store.storage import open_storage

LONG_REASON = "diverged: training loss is nan at step 3 " + "with a reason long enough to wrap a terminal " * 3


def _attempt(cell: str, state: TrialState, end: str | None = None, reason: str | None = None, job: str = "7_0"):
    system = {CELL_ATTR: cell, WORKER_ATTR: "node3:4242", SLURM_JOB_ATTR: job} | ({END_ATTR: end} if end else {})
    return create_trial(
        state=state,
        value=12.5 if state == TrialState.COMPLETE else None,
        system_attrs=system,
        user_attrs={FAILURE_REASON_ATTR: reason} if reason else {},
    )


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    """cbam-arrangement@quick with one cell in each state."""
    url = str(tmp_path / "s.journal")
    storage = open_storage(url)
    study = load_study("cbam-arrangement")
    settings = {"kind": "cells", "definition": study.to_dict(), "overrides": {}}
    opened = open_study(storage, url, "cbam-arrangement@quick", study.direction, settings, {})
    cells = [cell.name for cell in study.cells({})]
    attempts = [
        _attempt(cells[0], TrialState.COMPLETE),
        _attempt(cells[1], TrialState.FAIL, "final", LONG_REASON),
        _attempt(cells[2], TrialState.FAIL, "interrupted", "interrupted (Ctrl-C or SIGTERM)"),
        _attempt(cells[2], TrialState.FAIL, "superseded"),  # a lost claim race: not an attempt at all
        _attempt(cells[2], TrialState.RUNNING, job="7_1"),
        _attempt(cells[3], TrialState.FAIL, None, "worker lost: no heartbeat for 120 s"),
        _attempt(cells[4], TrialState.FAIL, "interrupted", "interrupted (Ctrl-C or SIGTERM)"),
    ]
    for attempt in attempts:
        storage.create_new_trial(opened._study_id, template_trial=attempt)
    storage.set_study_system_attr(opened._study_id, SLURM_JOBS_ATTR, ["7"])
    return url


def test_status_says_each_cells_state_worker_and_job_as_json(
    storage_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "cbam-arrangement", "--storage", storage_url, "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    cells = status["cells"]
    assert [cell["state"] for cell in cells[:5]] == ["complete", "failed", "running", "lost", "interrupted"]
    assert {cell["state"] for cell in cells[5:]} == {"pending"}
    assert cells[0]["detail"] == "test/top1_err = 12.50"
    assert cells[1]["detail"] == LONG_REASON
    assert cells[2] | {"cell": None} == {
        "cell": None,
        "state": "running",
        "attempts": 2,
        "worker": "node3:4242",
        "slurm_job": "7_1",
        "detail": "",
    }
    assert cells[3]["detail"] == "worker lost: no heartbeat for 120 s"
    assert status["counts"] == {
        "complete": 1,
        "failed": 1,
        "running": 1,
        "lost": 1,
        "interrupted": 1,
        "pending": len(cells) - 5,
    }
    assert status["slurm_jobs"] == ["7"] and "slurm_tasks" not in status


def test_status_table_keeps_whole_rows_in_a_pipe(storage_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "cbam-arrangement@quick", "--storage", storage_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("cbam-arrangement@quick: ") and "1 complete, 1 failed, 1 running" in lines[0]
    assert lines[1].split() == ["CELL", "STATE", "ATTEMPTS", "WORKER", "SLURM", "JOB", "DETAIL"]
    failed = next(line for line in lines if " failed " in line)
    assert failed.endswith(LONG_REASON.strip()) and len(failed) > 200  # one line, however long


def test_status_of_an_unknown_study_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "cbam-arrangement", "--storage", str(tmp_path / "none.journal")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "none.journal: no such journal file" in error
    assert not (tmp_path / "none.journal").exists()
    open_storage(str(tmp_path / "other.journal"))
    assert main(["status", "cbam-arrangement", "--storage", str(tmp_path / "other.journal")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "study 'cbam-arrangement@quick': not in" in error


def test_status_table_and_json_in_a_real_pipe(storage_url: str) -> None:
    out = _piped("status", "cbam-arrangement@quick", "--storage", storage_url)
    payload = json.loads(_piped("status", "cbam-arrangement@quick", "--storage", storage_url, "--format", "json"))
    for cell in payload["cells"]:
        line = _line_with(out, f"{cell['cell']} ")
        assert line.startswith(cell["cell"]) and line[len(cell["cell"]) :].split()[0] == cell["state"]  # name whole
    assert _line_with(out, " failed ").endswith(LONG_REASON.strip())
