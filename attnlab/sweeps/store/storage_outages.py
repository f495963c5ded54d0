"""A database that stops answering is waited out, not fatal: which errors mean that, and how long to wait.

A restarted or failed-over PostgreSQL, a MySQL that went away, a SQLite file locked for a moment:
every storage call that meets one of these waits with backoff (1 s doubling to 30 s) and retries,
and the process says so in one line when the outage begins and one when it ends. The bound
(``--storage-timeout``) counts from the outage's start, shared by every thread of the process: the
heartbeat thread and the main thread of a worker give up together, and a call made after the bound
passed (e.g. marking an attempt interrupted) fails at once instead of waiting the bound again.

Only losing the connection is waited for; an error the database itself reports about the data (a
bad value, a missing table) is raised at once, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import exc as sqlalchemy_exc

from attnlab.errors import ConfigError

DEFAULT_STORAGE_TIMEOUT_S = 600
MAX_STORAGE_TIMEOUT_S = 7 * 86400
FIRST_WAIT_S = 1.0
LONGEST_WAIT_S = 30.0
_MYSQL_CONNECTION_CODES = {2002, 2003, 2006, 2013, 2055}  # can't connect, server gone away, lost connection
_SQLITE_TRANSIENT = ("database is locked", "unable to open database file", "disk i/o error")

_logger = logging.getLogger(__name__)
Result = TypeVar("Result")


class StorageUnreachable(ConfigError):
    """The storage stayed unreachable past ``--storage-timeout``: one line naming it and the cause, like a bad
    URL (running the same command once it is back trains what is left)."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _lost_connection(driver_error: BaseException) -> bool:
    """Whether the driver's own exception says the connection failed (rather than the statement)."""
    module = type(driver_error).__module__.split(".", 1)[0]
    if type(driver_error).__name__ != "OperationalError" and not isinstance(driver_error, ConnectionError):
        return False
    if module in ("psycopg2", "psycopg"):
        code = getattr(driver_error, "pgcode", None) or getattr(driver_error, "sqlstate", None)
        return code is None or code.startswith(("08", "57P"))  # connection exception, server shut down
    if module in ("pymysql", "MySQLdb"):
        return bool(driver_error.args) and driver_error.args[0] in _MYSQL_CONNECTION_CODES
    if module == "sqlite3":
        return str(driver_error).lower().startswith(_SQLITE_TRANSIENT)
    return False


def outage_cause(error: BaseException) -> str | None:
    """The driver's first line when ``error`` (or one of its causes) is a lost or refused connection, else None.

    Optuna wraps SQLAlchemy's errors in its ``StorageInternalError`` ("invalid data in the commit"),
    which hides the cause: the chain of causes still holds it.
    """
    for link in _chain(error):
        if not isinstance(link, sqlalchemy_exc.DBAPIError):
            continue
        if (
            link.connection_invalidated
            or isinstance(link, sqlalchemy_exc.InterfaceError)
            or _lost_connection(link.orig)
        ):
            lines = [line.strip() for line in str(link.orig).splitlines() if line.strip()]
            return lines[0] if lines else type(link.orig).__name__
    return None


class Outages:
    """One process's view of its storage's outages: when the current one began, and the lines saying so."""

    def __init__(self, shown_url: str, bound_s: float) -> None:
        self.shown_url = shown_url
        self.bound_s = bound_s
        self._lock = threading.Lock()
        self._since: float | None = None  # monotonic start of the current outage
        self._ended: float = -float("inf")  # monotonic end of the last one

    def __reduce__(self) -> tuple[type, tuple[str, float]]:  # a storage pickled into another process starts afresh
        return (Outages, (self.shown_url, self.bound_s))

    def _began(self, cause: str) -> float:
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()
                _logger.warning(
                    "storage %s unreachable (%s); waiting up to %d s (--storage-timeout)",
                    self.shown_url,
                    cause,
                    self.bound_s,
                )
            return self._since

    def _over(self) -> None:
        with self._lock:
            if self._since is not None:
                _logger.warning(
                    "storage %s reachable again after %.0f s", self.shown_url, time.monotonic() - self._since
                )
                self._since, self._ended = None, time.monotonic()

    def ended_within(self, seconds: float) -> bool:
        """Whether an outage is under way or ended less than ``seconds`` ago."""
        with self._lock:
            return self._since is not None or time.monotonic() - self._ended < seconds

    def call(self, operation: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        """``operation(*args, **kwargs)``, retried with backoff while the connection is lost, up to the bound."""
        wait_s = FIRST_WAIT_S
        while True:
            try:
                result = operation(*args, **kwargs)
            except Exception as error:
                cause = outage_cause(error)
                if cause is None:
                    raise
                left = self._began(cause) + self.bound_s - time.monotonic()
                if left <= 0:
                    raise StorageUnreachable(
                        f"storage {self.shown_url} unreachable for {self.bound_s:.0f} s ({cause}); run the same "
                        "command again once it is back (or allow longer with --storage-timeout)"
                    ) from None
                time.sleep(min(wait_s, left))
                wait_s = min(2 * wait_s, LONGEST_WAIT_S)
                continue
            self._over()
            return result
