"""The journal's file lock, which a dead holder cannot wedge.

Optuna's ``JournalFileSymlinkLock`` links ``JOURNAL.lock`` to the journal's path *as given*: a
relative path makes a relative link that resolves beside itself (``runs/runs/…``), its grace-period
``stat`` follows that dangling link, fails, and the loop retries without sleeping, so a lock left by
a killed holder spins every later command at 100 % CPU for ever. This lock keeps Optuna's protocol
(the lock is the symlink ``JOURNAL.lock``; whoever creates it holds it; release unlinks it), and:

- the link names its holder (``attnlab-lock:HOST:PID:JOURNAL``), so a holder on this machine that
  died is seen at once and its lock broken;
- any other lock (another machine's, or one Optuna left) is broken once it has not changed for
  ``grace_s``, timed with ``lstat`` (the link itself, which a dangling link has too);
- waiting always sleeps (1 ms doubling to 100 ms), and a wait longer than ``NOTICE_AFTER_S`` says so
  in one line.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import time
import uuid
from pathlib import Path

from optuna.storages.journal._file import BaseJournalFileLock  # the lock interface (not re-exported)

LOCK_SUFFIX = ".lock"  # Optuna's, so an Optuna process sharing the journal takes the same lock
HOLDER_PREFIX = "attnlab-lock"
GRACE_S = 30.0  # a journal write holds the lock for milliseconds; 30 s is Optuna's grace period too
NOTICE_AFTER_S = 2.0
_MAX_SLEEP_S = 0.1
_logger = logging.getLogger(__name__)


def _holder_is_dead(holder: str) -> bool:
    """Whether ``holder`` (a link target) names a process of this machine that is gone (or a zombie)."""
    parts = holder.split(":", 3)
    if len(parts) != 4 or parts[0] != HOLDER_PREFIX or parts[1] != socket.gethostname() or not parts[2].isdigit():
        return False  # another machine's, or not ours: only the grace period can tell
    pid = int(parts[2])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "Z"  # killed, not yet reaped by its parent
    return False


class JournalLock(BaseJournalFileLock):
    """``JOURNAL.lock`` as a symlink naming its holder; stale locks are broken, waiting sleeps and says so once."""

    def __init__(self, journal: Path, grace_s: float = GRACE_S) -> None:
        self._journal = journal.absolute()
        self._lock = Path(f"{self._journal}{LOCK_SUFFIX}")
        self._grace_s = grace_s

    @property
    def path(self) -> Path:
        return self._lock

    def acquire(self) -> bool:
        started = time.monotonic()
        sleep_s, noticed = 0.001, False
        seen: tuple[str, float] | None = None  # the holder and link mtime last seen, and since when
        seen_since = started
        while True:
            try:
                os.symlink(f"{HOLDER_PREFIX}:{socket.gethostname()}:{os.getpid()}:{self._journal}", self._lock)
                return True
            except FileExistsError:
                pass
            holder = self._holder()
            if holder is not None:
                if holder != seen:
                    seen, seen_since = holder, time.monotonic()
                stale_for = time.monotonic() - seen_since
                if _holder_is_dead(holder[0]) or stale_for > self._grace_s:
                    self._break(holder[0], "its holder is gone" if stale_for <= self._grace_s else "unchanged")
                    continue
            if not noticed and time.monotonic() - started > NOTICE_AFTER_S:
                noticed = True
                _logger.warning(
                    "waiting for the journal lock %s (held by %s); a lock whose holder died is broken, "
                    "any other after %.0f s unchanged",
                    self._lock,
                    holder[0] if holder else "another process",
                    self._grace_s,
                )
            time.sleep(sleep_s)
            sleep_s = min(sleep_s * 2, _MAX_SLEEP_S)

    def _holder(self) -> tuple[str, float] | None:
        """The lock's link target and mtime; None when it vanished meanwhile."""
        try:
            return os.readlink(self._lock), os.lstat(self._lock).st_mtime
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.EINVAL):  # released, or replaced by a non-link
                return None
            raise

    def _break(self, holder: str, why: str) -> None:
        """Removes the stale lock, only if it is still the one judged stale (moved aside first, then checked)."""
        aside = Path(f"{self._lock}.stale-{uuid.uuid4().hex}")
        try:
            os.rename(self._lock, aside)
        except FileNotFoundError:
            return  # someone else broke or released it
        taken = os.readlink(aside)
        if taken != holder:  # a live lock taken between our look and the rename: give it back (never over a newer)
            with contextlib.suppress(FileExistsError):
                os.symlink(taken, self._lock)
            aside.unlink(missing_ok=True)
            return
        aside.unlink(missing_ok=True)
        _logger.warning("broke the stale journal lock %s held by %s (%s)", self._lock, holder, why)

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):  # broken by another process as stale meanwhile
            self._lock.unlink()
