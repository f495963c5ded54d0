"""A real PostgreSQL server for the tests, started from this machine's binaries in a temporary folder.

``postgres_server`` (one per session) runs ``initdb`` and ``pg_ctl`` on a free localhost port;
``postgres_url`` gives each test a fresh database on it. PostgreSQL refuses to run as root, so as
root the server runs as the ``postgres`` user. Tests are skipped, saying why, only where no
PostgreSQL binaries exist (CI installs Debian's ``postgresql`` package).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
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


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    binaries = _binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) found on PATH or in /usr/lib/postgresql/*/bin")
    initdb, pg_ctl = binaries
    folder = tmp_path_factory.mktemp("postgres")
    prefix = _as_server_user(folder, tmp_path_factory.getbasetemp().parent)
    data, port = folder / "data", _free_port()
    _run([*prefix, initdb, "-D", str(data), "-U", "attnlab", "-A", "trust", "--no-sync"])
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    _run([*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w", "start"])
    try:
        yield PostgresServer("127.0.0.1", port, "attnlab")
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A new, empty database on the session's server, as an Optuna storage URL."""
    import psycopg2

    database = f"test_{uuid.uuid4().hex[:12]}"
    server = postgres_server
    connection = psycopg2.connect(host=server.host, port=server.port, user=server.user, dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database}")
    connection.close()
    return postgres_server.url(database)
