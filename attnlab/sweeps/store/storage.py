"""Where studies live: one Optuna storage, named by a URL, shared by every worker on every machine.

- A plain path (default ``runs/attnlab.journal``): Optuna's ``JournalStorage`` on a
  ``JournalFileBackend``. Each write is one appended line under a file lock, so processes on one
  machine (or on a shared filesystem) can share it, no server is needed, and optuna-dashboard opens it.
  A record torn by a crash or a full disk is set aside, never lost (:mod:`attnlab.sweeps.store.journal_file`).
- ``sqlite:///FILE``, ``postgresql://…``, ``mysql://…`` (with or without ``+driver``): Optuna's
  ``RDBStorage`` (:class:`WaitingRDBStorage`, which waits out an outage of the database: see
  :mod:`attnlab.sweeps.store.storage_outages`); a database server lets workers on many machines share one study.

Heartbeats (a worker proving it is alive while it trains) are built into ``RDBStorage`` but not into
Optuna 5's ``JournalStorage``. :class:`HeartbeatJournalStorage` adds them through Optuna's own
``BaseHeartbeat`` interface: a beat is a trial system attribute holding the wall-clock time, so
``Study.optimize``'s heartbeat thread and ``optuna.storages.fail_stale_trials`` work on the journal
exactly as on a database. (Workers sharing a journal across machines need synchronised clocks, NTP;
a database compares beats against its own clock.)
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._storage import JournalOperation
from optuna.trial import FrozenTrial, TrialState

from attnlab.errors import ConfigError
from attnlab.sweeps.store.experimental import experimental_allowed
from attnlab.sweeps.store.journal_file import JournalFile, damaged_record_message, first_damaged_line
from attnlab.sweeps.store.storage_outages import DEFAULT_STORAGE_TIMEOUT_S, Outages
from attnlab.sweeps.store.trial_feed import TrialFeed, uncached
from attnlab.sweeps.store.waiting_database import WaitingRDBStorage, waited

DEFAULT_STORAGE = "runs/attnlab.journal"
HEARTBEAT_ATTR = "attnlab.heartbeat"  # trial system attribute: wall-clock time of the worker's last beat
RDB_SCHEMES: tuple[str, ...] = ("sqlite", "postgresql", "postgres", "mysql")
CONNECT_TIMEOUT_S = 10  # a database server that does not answer fails the command instead of hanging it
VALID_FORMS = (
    f"a journal file path (default {DEFAULT_STORAGE}), sqlite:///FILE, "
    "postgresql://USER:PASSWORD@HOST:PORT/DB or mysql://USER:PASSWORD@HOST/DB"
)

StaleTrialCallback = Callable[[optuna.Study, FrozenTrial], None]


@dataclass(frozen=True)
class Heartbeat:
    """A running trial beats every ``interval_s``; one silent for ``grace_s`` belongs to a dead worker."""

    interval_s: int = 30
    grace_s: int = 120
    on_stale: StaleTrialCallback | None = None  # called once per stale trial, by the process that failed it

    def __post_init__(self) -> None:
        if self.interval_s < 1:
            raise ConfigError(f"--heartbeat-interval: {self.interval_s} s; use a whole number of seconds >= 1")
        if self.grace_s <= self.interval_s:
            raise ConfigError(
                f"--grace-period: {self.grace_s} s must exceed the heartbeat interval ({self.interval_s} s), "
                "or a live worker would be declared dead between two beats"
            )


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """Optuna's journal storage with the heartbeat Optuna implements only for databases."""

    def __init__(self, backend: JournalFileBackend, heartbeat: Heartbeat) -> None:
        super().__init__(backend)
        self._heartbeat = heartbeat
        self._feeds: dict[int, TrialFeed] = {}  # per study: its new and unfinished trials, for the stale check
        self._feeds_lock = threading.Lock()

    def record_heartbeat(self, trial_id: int) -> None:
        # A trial that ended (or was declared dead) between two beats has nothing left to keep alive.
        with contextlib.suppress(UpdateFinishedTrialError):
            self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """Running trials silent for the grace period, counting from their start if they never beat; looked for
        among the trials new or unfinished since the last check, not the whole study (a finished one never runs)."""
        oldest_alive = time.time() - self._heartbeat.grace_s
        with self._feeds_lock:
            feed = self._feeds.setdefault(study_id, TrialFeed(self, study_id))
            return [
                trial._trial_id
                for trial in feed.changed()
                if trial.state == TrialState.RUNNING and _last_sign_of_life(trial) < oldest_alive
            ]

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat.interval_s

    def get_heartbeat_stale_trial_callback(self) -> StaleTrialCallback | None:
        return self._heartbeat.on_stale


def _last_sign_of_life(trial: FrozenTrial) -> float:
    """The later of its last beat and its start (a re-queued trial carries its predecessor's old beat; a
    worker killed between creating a trial and its first beat leaves only the start)."""
    started = trial.datetime_start.timestamp() if trial.datetime_start is not None else 0.0
    return max(trial.system_attrs.get(HEARTBEAT_ATTR, started), started)


def optuna_study_name(study: str, profile: str) -> str:
    """The Optuna study a study (or sweep) runs as under a profile: the same study under two profiles never mixes.

    A profile given as a file is named by its stem (``my/fast.yaml`` -> ``fast``); a study created
    under one file and resumed under another of the same stem is caught by the settings check.
    """
    label = Path(profile).stem if Path(profile).suffix in (".yaml", ".yml") else profile
    return f"{study}@{label}"


def is_database(url: str) -> bool:
    """Whether ``url`` names a database (RDBStorage) rather than a journal file."""
    return _scheme(url) is not None


def _scheme(url: str) -> str | None:
    """``postgresql+psycopg2://…`` -> ``postgresql``; a path -> None."""
    if "://" not in url:
        return None
    return url.split("://", 1)[0].split("+", 1)[0].lower()


def shown_url(url: str) -> str:
    """The URL without its password, for error messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL too malformed to parse has nothing to hide behind its scheme
        return url.split("://", 1)[0] + "://…"


def _journal(path: Path, heartbeat: Heartbeat | None) -> JournalStorage:
    if path.is_dir():
        raise ConfigError(f"--storage {path}: is a directory; give a file such as {path / 'attnlab.journal'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = JournalFile(path)
        return JournalStorage(backend) if heartbeat is None else HeartbeatJournalStorage(backend, heartbeat)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"--storage {path}: cannot be opened ({reason}); valid: {VALID_FORMS}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError):
        line = first_damaged_line(path)
        if line is not None and line > 1:
            raise ConfigError(damaged_record_message(path, line)) from None
        raise ConfigError(f"--storage {path}: is not an Optuna journal file; valid: {VALID_FORMS}") from None


def _with_installed_driver(url: str) -> str:
    """``postgresql://`` with the PostgreSQL driver that is installed (SQLAlchemy 2.1 assumes psycopg 3;
    attnlab's ``postgres`` extra installs psycopg2); a URL naming its driver is kept as it is."""
    head, rest = url.split("://", 1)
    if head not in ("postgresql", "postgres"):
        return url
    driver = "psycopg" if importlib.util.find_spec("psycopg") else "psycopg2"
    return f"postgresql+{driver}://{rest}"


def set_trial_user_attrs(storage: BaseStorage, trial_id: int, attrs: dict[str, Any]) -> None:
    """Sets several trial user attributes in one storage operation where Optuna's storage allows it.

    A journal gets one append of one line per key (Optuna's replay takes one key per line) under one lock; a
    database gets one transaction (one commit, and one outage wait, for all keys). Other storages: key by key.
    """
    backend = uncached(storage)
    if not attrs:
        return
    if isinstance(backend, JournalStorage):
        with backend._thread_lock:
            worker = backend._replay_result.worker_id
            operation = JournalOperation.SET_TRIAL_USER_ATTR
            lines = [
                {"op_code": operation, "worker_id": worker, "trial_id": trial_id, "user_attr": {key: value}}
                for key, value in attrs.items()
            ]
            backend._backend.append_logs(lines)
            backend._sync_with_backend()
    elif isinstance(backend, RDBStorage):
        _in_one_transaction(backend, trial_id, attrs)
    else:
        for key, value in attrs.items():
            storage.set_trial_user_attr(trial_id, key, value)


def set_trial_params(
    storage: BaseStorage,
    trial_id: int,
    params: Mapping[str, tuple[float, BaseDistribution]],
    checked: dict[str, BaseDistribution],
) -> None:
    """Sets trial parameters (internal value, distribution), on a database in one transaction.

    ``checked`` holds the distributions this process already checked against the study's: each
    parameter's stored distribution is looked up once per process (a query over the study's
    parameters), as Optuna's trial cache does, not once per trial.
    """
    backend = uncached(storage)
    if not isinstance(backend, RDBStorage):
        for name, (value, distribution) in params.items():
            backend.set_trial_param(trial_id, name, value, distribution)
        return

    def write() -> None:
        with _create_scoped_session(backend.scoped_session, True) as session:
            for name, (value, distribution) in params.items():
                backend._set_trial_param_without_commit(session, trial_id, name, value, distribution, checked.get(name))

    waited(backend, write)
    checked.update({name: distribution for name, (_, distribution) in params.items()})


def _in_one_transaction(database: RDBStorage, trial_id: int, attrs: dict[str, Any]) -> None:
    def write() -> None:
        with _create_scoped_session(database.scoped_session, True) as session:
            for key, value in attrs.items():
                database._set_trial_attr_without_commit(session, models.TrialUserAttributeModel, trial_id, key, value)

    waited(database, write)


def _database(url: str, scheme: str, heartbeat: Heartbeat | None, storage_timeout_s: int) -> RDBStorage:
    engine_kwargs: dict[str, Any] = (
        {} if scheme == "sqlite" else {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}, "pool_pre_ping": True}
    )
    if scheme == "sqlite":
        database = url.split(":///", 1)[1] if ":///" in url else ""
        if database and database != ":memory:":
            if not Path(database).is_absolute():  # a pooled connection opened after a chdir must find the same file
                url = f"{url.split(':///', 1)[0]}:///{Path(database).absolute()}"
            folder = Path(database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)  # created like a journal's, as sqlite itself would not
            except OSError as error:
                reason = error.strerror or str(error)
                raise ConfigError(
                    f"--storage {shown_url(url)}: cannot create the folder {folder} ({reason}); valid: {VALID_FORMS}"
                ) from None
    beat = {} if heartbeat is None else {"heartbeat_interval": heartbeat.interval_s, "grace_period": heartbeat.grace_s}
    try:
        with experimental_allowed():
            return WaitingRDBStorage(
                _with_installed_driver(url),
                outages=Outages(shown_url(url), storage_timeout_s),
                engine_kwargs=engine_kwargs,
                heartbeat_stale_trial_callback=None if heartbeat is None else heartbeat.on_stale,
                **beat,
            )
    except Exception as error:  # sqlalchemy: bad URL, missing driver, refused or timed-out connection
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[0] if lines else type(error).__name__
        raise ConfigError(f"--storage {shown_url(url)}: cannot open ({reason}); valid: {VALID_FORMS}") from None


def open_storage(
    url: str | None = None, *, heartbeat: Heartbeat | None = None, storage_timeout_s: int = DEFAULT_STORAGE_TIMEOUT_S
) -> BaseStorage:
    """The storage at ``url`` (default :data:`DEFAULT_STORAGE`), checked now: a bad URL fails before any compute.

    With ``heartbeat``, running trials beat and trials of dead workers can be detected (both kinds). A
    database's outage is waited out for up to ``storage_timeout_s`` seconds, then ends the command in one line.
    """
    url = DEFAULT_STORAGE if url is None else url
    if not url.strip():
        raise ConfigError(f"--storage: empty; valid: {VALID_FORMS}")
    scheme = _scheme(url)
    if scheme is None:
        return _journal(Path(url), heartbeat)
    if scheme not in RDB_SCHEMES:
        raise ConfigError(f"--storage {shown_url(url)}: unknown scheme {scheme!r}; valid: {VALID_FORMS}")
    return _database(url, scheme, heartbeat, storage_timeout_s)
