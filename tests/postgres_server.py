"""A real PostgreSQL server for the tests, started from this machine's binaries in a temporary folder.

``postgres_server`` (one per session) runs ``initdb`` and ``pg_ctl`` on a free localhost port;
``postgres_url`` gives each test a fresh database on it. ``stoppable_postgres`` is a server of the
test's own, which the test stops and starts again (an outage) without disturbing the others.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user. Tests are
skipped, saying why, only where no PostgreSQL binaries exist (CI installs Debian's ``postgresql`` package).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SEARCH_PATTERNS = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql*/bin")


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"


def _binaries() -> tuple[str, str] | None:
    """``(initdb, pg_ctl)``: on PATH, else in the usual install folders (newest version first)."""
    folders = [os.path.dirname(path) for path in (shutil.which("pg_ctl"),) if path]
    folders += sorted((folder for pattern in SEARCH_PATTERNS for folder in glob.glob(pattern)), reverse=True)
    for folder in folders:
        initdb, pg_ctl = Path(folder, "initdb"), Path(folder, "pg_ctl")
        if initdb.is_file() and pg_ctl.is_file():
            return str(initdb), str(pg_ctl)
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(folder: Path, private_root: Path) -> list[str]:
    """The command prefix running the server as a non-root user (the ``postgres`` account) when we are root.

    That user must be able to reach ``folder``: the private folders from ``private_root`` down to it
    (pytest's own temporary folders) are opened for traversal, nothing else.
    """
    if os.geteuid() != 0:
        return []
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and no 'postgres' user exists to run PostgreSQL as")
    for parent in [folder, *folder.parents]:
        parent.chmod(parent.stat().st_mode | 0o711)
        if parent == private_root:
            break
    os.chown(folder, account.pw_uid, account.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr or done.stdout}")


@dataclass(frozen=True)
class PostgresCluster:
    """A data folder ``initdb`` made, served on ``port`` while started (``-m fast`` stops end every session)."""

    server: PostgresServer
    pg_ctl: str
    data: Path
    prefix: list[str]

    @classmethod
    def create(cls, folder: Path, private_root: Path) -> PostgresCluster:
        binaries = _binaries()
        if binaries is None:
            pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) found on PATH or in /usr/lib/postgresql/*/bin")
        initdb, pg_ctl = binaries
        prefix = _as_server_user(folder, private_root)
        data = folder / "data"
        _run([*prefix, initdb, "-D", str(data), "-U", "attnlab", "-A", "trust", "--no-sync"])
        return cls(PostgresServer("127.0.0.1", _free_port(), "attnlab"), pg_ctl, data, prefix)

    def start(self) -> None:
        options = f"-p {self.server.port} -k {self.data.parent} -c listen_addresses=127.0.0.1 -c fsync=off "
        options += "-c max_connections=200"
        log = str(self.data.parent / "server.log")
        _run([*self.prefix, self.pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        subprocess.run([*self.prefix, self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"], timeout=60)


@contextlib.contextmanager
def _started(folder: Path, private_root: Path) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster.create(folder, private_root)
    cluster.start()
    try:
        yield cluster
    finally:
        subprocess.run(
            [*cluster.prefix, cluster.pg_ctl, "-D", str(cluster.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    root = tmp_path_factory.getbasetemp().parent
    with _started(tmp_path_factory.mktemp("postgres"), root) as cluster:
        yield cluster.server


@pytest.fixture
def stoppable_postgres() -> Iterator[PostgresCluster]:
    """A server of this test's own, started, with an ``attnlab`` database; the test may stop and restart it.

    Its folder is outside pytest's: a pytest session starting meanwhile makes ``/tmp/pytest-of-USER``
    private again, and the server user could then not reach its data folder to start again.
    """
    folder = Path(tempfile.mkdtemp(prefix="attnlab-postgres-"))
    try:
        with _started(folder, folder) as cluster:
            _create_database(cluster.server, "attnlab")
            yield cluster
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _create_database(server: PostgresServer, database: str) -> None:
    import psycopg2

    connection = psycopg2.connect(host=server.host, port=server.port, user=server.user, dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database}")
    connection.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A new, empty database on the session's server, as an Optuna storage URL."""
    database = f"test_{uuid.uuid4().hex[:12]}"
    _create_database(postgres_server, database)
    return postgres_server.url(database)
