"""Faults of the machine, not of a design, with real processes and files: no finished cell is lost to them."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from sweep_helpers import Tiny, metrics_files

from attnlab.sweeps.attempts import CELL_ATTR
from attnlab.sweeps.journal_file import TORN_SUFFIX
from attnlab.sweeps.storage import open_storage

STUDY = "tiny@tiny-profile"
FAST_HEARTBEAT = ["--heartbeat-interval", "1", "--grace-period", "4"]


def _complete(journal: str) -> dict[str, tuple[int, float]]:
    """Complete cells -> (trial number, value), read from a freshly opened storage."""
    trials = optuna.load_study(study_name=STUDY, storage=open_storage(journal)).trials
    return {t.system_attrs[CELL_ATTR]: (t.number, t.value) for t in trials if t.state == TrialState.COMPLETE}


@pytest.mark.slow
def test_a_torn_last_record_is_set_aside_and_the_rerun_trains_only_what_it_lost(tiny: Tiny) -> None:
    study = tiny.study({"plain": {"model.attention.type": "none"}, "cbam": {}}, seeds=[0])
    command = ["ablate", str(study), "--profile", str(tiny.profile), *FAST_HEARTBEAT]
    first = tiny.run(*command)
    assert first.returncode == 0, first.stdout + first.stderr
    journal = Path(tiny.journal)
    whole = journal.read_bytes()
    finished = _complete(tiny.journal)
    last = whole.rstrip(b"\n").rfind(b"\n") + 1  # the last cell's COMPLETE record
    kept_lines = whole.count(b"\n") - 1
    cut = last + (len(whole) - last) // 2
    journal.write_bytes(whole[:cut])

    again = tiny.run(*command)
    assert again.returncode == 0, again.stdout + again.stderr
    [torn_line] = [line for line in again.stderr.splitlines() if "torn" in line]
    assert torn_line.endswith(f"the journal continues from its last complete record (line {kept_lines})")
    [aside] = journal.parent.glob(f"attnlab.journal{TORN_SUFFIX}*")
    assert aside.read_bytes() == whole[last:cut]  # the torn bytes, kept
    now = _complete(tiny.journal)
    assert now["plain/seed0"] == finished["plain/seed0"]  # the complete cell survived, not retrained
    assert now["cbam/seed0"][0] > finished["cbam/seed0"][0]  # the torn one was trained again, once
    assert len(metrics_files(tiny.folder, STUDY)) == 3

    report = tiny.run("report", "tiny", "--profile", str(tiny.profile), "--storage", tiny.journal, "-o", "report")
    assert report.returncode == 0, report.stderr
    assert "COMPLETE: 2/2 cells" in report.stdout
