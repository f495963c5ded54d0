"""The journal file under Optuna's ``JournalStorage``, kept whole when a write is cut short.

Optuna appends each record as one line under a file lock. A writer that dies, or hits a full disk,
in the middle of a line leaves a torn last line. Optuna's reader skips a last line without its
newline, but the next append is glued onto it, and from then on the journal no longer replays. So:

- on open, a torn final record (no newline, or not a JSON record) is moved to ``JOURNAL.torn-TIME``
  next to the journal (never deleted) and the journal continues from its last complete record; one
  line says so;
- an append first does the same with a torn tail another process left, and an append that fails
  (``ENOSPC``) cuts the file back to where it was, so a failed write never tears the journal;
- a damaged record in the *middle* is not guessed around: :func:`damaged_record_message` names its
  line and how to set the rest aside.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from optuna.storages.journal import JournalFileBackend

from attnlab.errors import ConfigError
from attnlab.sweeps.store.journal_lock import JournalLock

TORN_SUFFIX = ".torn-"
_TAIL_CHUNK = 1 << 16
_RECORD_START = b'{"op_code":'  # how Optuna writes every record
_logger = logging.getLogger(__name__)


def _is_record(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
        return False
    return isinstance(record, dict) and "op_code" in record


def _last_line_start(path: Path, size: int) -> int:
    """Where the file's last line starts (a final newline belongs to that line)."""
    with path.open("rb") as file:
        position = size - 1
        while position > 0:
            step = min(_TAIL_CHUNK, position)
            file.seek(position - step)
            found = file.read(step).rfind(b"\n")
            if found >= 0:
                return position - step + found + 1
            position -= step
    return 0


def _begins_record(line: bytes) -> bool:
    """Whether ``line`` is (the start of) a line the way Optuna writes records, ``{"op_code":...``."""
    return line.startswith(_RECORD_START) or _RECORD_START.startswith(line.rstrip(b"\n"))


def torn_tail(path: Path) -> int | None:
    """The offset of a torn final record, or None when the journal ends with a complete one (or is empty).

    Only a journal has a torn record: a last line that does not begin like a record, or a first line
    that is no record, means another kind of file, which is left as it is.
    """
    size = path.stat().st_size
    if size == 0:
        return None
    start = _last_line_start(path, size)
    with path.open("rb") as file:
        first = file.readline()
        file.seek(start)
        line = file.read()
    if (line.endswith(b"\n") and _is_record(line)) or not _begins_record(line):
        return None
    return start if start == 0 or _is_record(first) else None


def _aside_path(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    candidate, count = path.with_name(f"{path.name}{TORN_SUFFIX}{stamp}"), 1
    while candidate.exists():
        count += 1
        candidate = path.with_name(f"{path.name}{TORN_SUFFIX}{stamp}-{count}")
    return candidate


def set_aside(path: Path, start: int) -> Path:
    """Copies the bytes from ``start`` on to a file next to the journal (synced), then cuts them off the journal."""
    with path.open("rb") as file:
        file.seek(start)
        torn = file.read()
    aside = _aside_path(path)
    with aside.open("xb") as out:
        out.write(torn)
        out.flush()
        os.fsync(out.fileno())
    os.truncate(path, start)
    with path.open("rb") as journal:
        lines = sum(1 for _ in journal)
    _logger.warning(
        "%s: its last record was torn (a write cut short): moved its %d bytes to %s; "
        "the journal continues from its last complete record (line %d)",
        path,
        len(torn),
        aside,
        lines,
    )
    return aside


class JournalFile(JournalFileBackend):
    """Optuna's ``JournalFileBackend`` (same format, same lock file) that sets torn records aside and never tears one.

    Its paths are absolute from the start: a thread's ``chdir`` (jsonargparse does one while it reads a
    ``--config``) cannot move the heartbeat thread's journal or lock elsewhere.
    """

    def __init__(self, path: Path) -> None:
        self._path = path.absolute()
        self._file_lock = JournalLock(self._path)
        super().__init__(str(self._path), lock_obj=self._file_lock)
        with self._locked():
            start = torn_tail(self._path)
            if start is not None:
                try:
                    set_aside(self._path, start)
                except OSError as error:
                    raise ConfigError(
                        f"--storage {path}: its last record is torn and cannot be set aside in {path.parent} "
                        f"({error.strerror}); free space there and run the command again"
                    ) from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._file_lock.acquire()
        try:
            yield
        finally:
            self._file_lock.release()

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode("utf-8")
        with self._locked():
            size = self._path.stat().st_size
            if size and not self._ends_whole(size):  # another writer was cut short mid-record
                set_aside(self._path, _last_line_start(self._path, size))
                size = self._path.stat().st_size
            try:
                with self._path.open("ab") as file:
                    file.write(text)
                    file.flush()
                    os.fsync(file.fileno())
            except OSError as error:
                with contextlib.suppress(OSError):
                    os.truncate(self._path, size)  # the journal ends where it did: whole
                raise OSError(error.errno, error.strerror, str(self._path)) from error

    def _ends_whole(self, size: int) -> bool:
        with self._path.open("rb") as file:
            file.seek(size - 1)
            return file.read(1) == b"\n"


def first_damaged_line(path: Path) -> int | None:
    """The number of the first line that is not a journal record; None if every line is one."""
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            if not _is_record(line):
                return number
    return None


def damaged_record_message(path: Path, line: int) -> str:
    """Why a journal with a damaged record in the middle is refused, and how to set the rest aside."""
    kept = line - 1
    return (
        f"--storage {path}: line {line} is not a complete journal record and more records follow it; set the "
        f"damaged part aside and keep the {kept} records before it: mv {path} {path}.damaged && "
        f"head -n {kept} {path}.damaged > {path}"
    )
