"""Fixtures of the process-level tests: a tiny study in the test's folder, background processes, shared storages."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from postgres_server import postgres_server, postgres_url
from sweep_helpers import TINY_PROFILE, Tiny

__all__ = ["postgres_server", "postgres_url"]  # a real PostgreSQL for the tests here


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tiny:
    monkeypatch.chdir(tmp_path)
    profile = tmp_path / "tiny-profile.yaml"
    profile.write_text(yaml.safe_dump(TINY_PROFILE, sort_keys=False))
    return Tiny(tmp_path, profile, str(tmp_path / "runs" / "attnlab.journal"))


@pytest.fixture
def background() -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts; any still running at the end are killed with their process group."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(params=["journal", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A storage processes share: the default kind (a journal file) or a PostgreSQL database."""
    return str(tmp_path / "s.journal") if request.param == "journal" else request.getfixturevalue("postgres_url")
