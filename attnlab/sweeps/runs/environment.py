"""Faults of the machine, not of a design: a full disk, a read-only filesystem, a missing permission.

A cell that hits one did not fail: it could not run here, and neither could the next. So it is not
recorded as a failure: its attempt is marked interrupted (the cell stays to do, as after Ctrl-C), the
worker stops, and one line names the path and what to free or fix; running the same command again
then trains the cell.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

STOPPED_STATUS = 75  # a worker stopped by its machine (EX_TEMPFAIL: try again once it is fixed)
STOPPED_REASON = "interrupted by the machine: {}"  # what an interrupted attempt's record says
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_ADVICE = {
    errno.ENOSPC: "no space left on its filesystem; free space there (old checkpoints under runs/train, or keep "
    "fewer with --checkpoints)",
    errno.EDQUOT: "disk quota exceeded; free space in your quota (old checkpoints under runs/train, or keep fewer "
    "with --checkpoints)",
    errno.EROFS: "its filesystem is read-only; remount it writable or run from a writable folder",
    errno.EACCES: "permission denied; make it writable for this user or run from a folder you own",
    errno.EPERM: "operation not permitted; make it writable for this user or run from a folder you own",
}


class EnvironmentStop(Exception):
    """The machine stopped a training (the one-line message says where and what to do); the cell stays to do."""


def environment_fault(error: BaseException) -> OSError | None:
    """The full-disk, read-only or permission ``OSError`` behind ``error`` (in its chain of causes), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError) and current.errno in _ADVICE:
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _remove_partial_copy(fault: OSError) -> None:
    """A copy cut short by a full disk (a checkpoint moved into place) leaves a partial file holding the last
    free space, which even marking the cell interrupted needs: it is useless, so it goes."""
    if fault.errno in _NO_SPACE and fault.filename2:
        with contextlib.suppress(OSError):
            Path(os.fsdecode(fault.filename2)).unlink()


def as_environment_stop(error: BaseException) -> EnvironmentStop | None:
    """``error`` as an :class:`EnvironmentStop` when the machine caused it, else None."""
    if isinstance(error, EnvironmentStop):
        return error
    fault = environment_fault(error)
    if fault is None:
        return None
    _remove_partial_copy(fault)
    path = fault.filename2 if fault.errno in _NO_SPACE and fault.filename2 else fault.filename
    where = os.fsdecode(path) if path is not None else os.getcwd()
    return EnvironmentStop(f"{where}: {_ADVICE[fault.errno]}; then run the same command again")
