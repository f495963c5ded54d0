"""A journal lock left by a SIGKILLed holder, on the default relative journal: a rerun breaks it and finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sweep_helpers import Tiny, metrics_files

STUDY = "tiny@tiny-profile"
HOLD_LOCK = (
    "import sys, time; from pathlib import Path; from attnlab.sweeps.store.journal_lock import JournalLock; "
    "JournalLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(600)"
)


@pytest.mark.slow
def test_a_rerun_after_a_sigkilled_lock_holder_breaks_the_lock_and_trains_nothing_again(tiny: Tiny) -> None:
    study = tiny.study({"plain": {"model.attention.type": "none"}}, seeds=[0])
    command = ["ablate", str(study), "--profile", str(tiny.profile)]
    first = tiny.run(*command)
    assert first.returncode == 0, first.stdout + first.stderr
    trained = metrics_files(tiny.folder, STUDY)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, "runs/attnlab.journal"], cwd=tiny.folder, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tiny.folder / "runs" / "attnlab.journal.lock").is_symlink()

    started = time.monotonic()
    again = tiny.run(*command, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert time.monotonic() - started < 90
    assert sum("broke the stale journal lock" in line for line in again.stderr.splitlines()) == 1
    assert metrics_files(tiny.folder, STUDY) == trained  # the complete cell was not trained again
