"""The journal under real faults: a lock left by a killed holder, and another thread's chdir while beats are written."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest

from attnlab.ablations import load_study
from attnlab.sweeps.store.journal_lock import JournalLock
from attnlab.sweeps.store.settings import open_study
from attnlab.sweeps.store.storage import HEARTBEAT_ATTR, Heartbeat, open_storage

HOLD_LOCK = (
    "import sys, time; from pathlib import Path; from attnlab.sweeps.store.journal_lock import JournalLock; "
    "JournalLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(600)"
)


def _killed_holder(journal: str, cwd: Path) -> None:
    """A process that takes the journal's lock (by the relative path, as the default storage does) and is SIGKILLed."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, journal], cwd=cwd, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()


def test_a_lock_left_by_a_sigkilled_holder_is_broken_and_status_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    study = load_study("cbam-arrangement")
    settings = {"kind": "cells", "definition": study.to_dict(), "overrides": {}}
    url = "runs/attnlab.journal"
    open_study(open_storage(url), url, "cbam-arrangement@quick", study.direction, settings, {})
    _killed_holder("runs/attnlab.journal", tmp_path)
    lock = tmp_path / "runs" / "attnlab.journal.lock"
    assert lock.is_symlink()

    started = time.monotonic()
    status = subprocess.run(
        [sys.executable, "-m", "attnlab", "status", "cbam-arrangement@quick", "--storage", "runs/attnlab.journal"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - started < 30  # no spin, no grace period: the holder is known dead
    assert status.returncode == 0, status.stderr
    assert "broke the stale journal lock" in status.stderr
    assert not lock.exists() and not lock.is_symlink()


def test_a_lock_whose_holder_cannot_be_checked_is_broken_after_its_grace_period_with_one_waiting_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    journal = Path("runs/attnlab.journal")
    journal.parent.mkdir()
    os.symlink(str(journal), f"{journal}.lock")  # what Optuna's lock leaves: a relative link that dangles
    lock = JournalLock(journal, grace_s=3)
    started, cpu = time.monotonic(), time.process_time()
    with caplog.at_level(logging.WARNING):
        assert lock.acquire()
    waited = time.monotonic() - started
    assert 3 <= waited < 10
    assert time.process_time() - cpu < 0.5 * waited  # it slept, it did not spin
    waiting = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting for the journal lock")]
    assert len(waiting) == 1 and "after 3 s unchanged" in waiting[0]
    assert os.readlink(f"{journal}.lock").endswith(f":{os.getpid()}:{journal.absolute()}")
    lock.release()
    assert not Path(f"{journal}.lock").is_symlink()


def test_a_lock_held_by_a_live_process_is_waited_for_not_broken(tmp_path: Path) -> None:
    journal = tmp_path / "j"
    holder = JournalLock(journal)
    assert holder.acquire()
    taken = threading.Event()

    def take() -> None:
        JournalLock(journal, grace_s=60).acquire()
        taken.set()

    waiter = threading.Thread(target=take, daemon=True)
    waiter.start()
    assert not taken.wait(1.5)  # this process is alive: its lock stands
    holder.release()
    assert taken.wait(5)


def test_heartbeats_and_appends_land_in_the_journal_while_another_thread_chdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "profiles"
    (elsewhere / "runs").mkdir(parents=True)
    storage = open_storage("runs/attnlab.journal", heartbeat=Heartbeat(interval_s=1, grace_s=3))
    backend = storage._backend
    assert Path(backend._file_path).is_absolute() and backend._file_lock.path.is_absolute()
    study = optuna.create_study(storage=storage, study_name="s")
    trial_id = study.ask()._trial_id
    stop = threading.Event()

    def wander() -> None:  # what jsonargparse does while it reads a --config: chdir to its folder and back
        while not stop.is_set():
            os.chdir(elsewhere)
            os.chdir(tmp_path)

    thread = threading.Thread(target=wander)
    thread.start()
    try:
        for _ in range(50):
            storage.record_heartbeat(trial_id)
            study.set_user_attr("beat", time.time())
    finally:
        stop.set()
        thread.join()
    lines = (tmp_path / "runs" / "attnlab.journal").read_text().splitlines()
    assert sum(HEARTBEAT_ATTR in line for line in lines) == 50
    assert sum('"beat"' in line for line in lines) == 50
    assert list((elsewhere / "runs").iterdir()) == []  # nothing written where the chdir pointed
