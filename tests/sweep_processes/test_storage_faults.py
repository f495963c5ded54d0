"""Faults of the machine, not of a design, with real processes and files: no finished cell is lost to them."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState
from small_filesystem import grow, small_filesystem
from sweep_helpers import Tiny, metrics_files

from attnlab.cli.main import main
from attnlab.sweeps.store.attempts import CELL_ATTR, END_ATTR
from attnlab.sweeps.store.journal_file import TORN_SUFFIX
from attnlab.sweeps.store.storage import open_storage

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


@pytest.mark.slow
def test_a_full_disk_interrupts_the_cell_and_the_study_completes_once_space_is_freed(tiny: Tiny) -> None:
    study = tiny.study({"plain": {"model.attention.type": "none"}, "cbam": {}}, seeds=[0])
    command = ["ablate", str(study), "--profile", str(tiny.profile), *FAST_HEARTBEAT]
    # 4 MB: the first cell's two checkpoints fit (the best one stays), the second cell's do not.
    with small_filesystem(tiny.folder / "runs", "4m") as runs:
        full = tiny.run(*command)
        assert full.returncode == 1, full.stdout + full.stderr
        [stopped] = [line for line in full.stdout.splitlines() if line.startswith("worker 0 stopped: ")]
        assert f"{runs}/train/" in stopped and "no space left on its filesystem; free space there" in stopped
        trials = optuna.load_study(study_name=STUDY, storage=open_storage(tiny.journal)).trials
        states = {t.system_attrs[CELL_ATTR]: (t.state, t.system_attrs.get(END_ATTR)) for t in trials}
        assert states == {"plain/seed0": (TrialState.COMPLETE, None), "cbam/seed0": (TrialState.FAIL, "interrupted")}
        finished = _complete(tiny.journal)

        grow(runs, "16m")
        freed = tiny.run(*command)
        assert freed.returncode == 0, freed.stdout + freed.stderr
        now = _complete(tiny.journal)
        assert now["plain/seed0"] == finished["plain/seed0"] and set(now) == {"plain/seed0", "cbam/seed0"}
        kept = sorted(path.name for path in (runs / "train").glob("**/trial[02]/checkpoints/*.ckpt"))
        assert kept == ["best-epoch000.ckpt", "best-epoch000.ckpt"]  # complete cells keep their best only


def test_a_trainer_setting_this_machine_lacks_stops_the_study_before_any_training(
    tiny: Tiny, capsys: pytest.CaptureFixture[str]
) -> None:
    study = tiny.study({"cbam": {}}, seeds=[0])
    accelerator = "mps" if torch.cuda.is_available() else "gpu"
    setting = f"trainer.accelerator={accelerator}"
    assert main(["ablate", str(study), "--profile", str(tiny.profile), "--set", setting]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and f"trainer.accelerator: '{accelerator}' is not available on this machine" in error[0]
    assert tiny.trials(STUDY) == [] and not metrics_files(tiny.folder, STUDY)


@pytest.mark.slow
def test_a_study_without_a_complete_cell_resumes_under_new_settings(tiny: Tiny) -> None:
    study = tiny.study({"cbam": {}}, seeds=[0])
    command = ["ablate", str(study), "--profile", str(tiny.profile)]
    diverged = tiny.run(*command, "--set", "model.optimizer.lr=1e12")
    assert diverged.returncode == 1, diverged.stdout + diverged.stderr
    assert diverged.stdout.splitlines()[-1] == "tiny@tiny-profile: every cell failed (1 of 1, reasons above)"

    fixed = tiny.run(*command)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    [line] = [line for line in fixed.stderr.splitlines() if "starting it again with the new settings" in line]
    assert "--set model.optimizer.lr=1000000000000.0 then, --set (none) now" in line
    assert set(_complete(tiny.journal)) == {"cbam/seed0"}
