"""``attnlab dashboard`` serves optuna-dashboard on localhost: a real server process, real HTTP requests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from attnlab.cli.main import main as attnlab
from attnlab.sweeps.store.storage import open_storage


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def _wait_for(url: str, server: subprocess.Popen[str], timeout_s: float = 60) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout_s
    while True:
        if server.poll() is not None:
            pytest.fail(f"dashboard exited with {server.returncode}: {server.communicate()[0]}")
        try:
            return _get(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture
def journal(tmp_path: Path) -> str:
    url = str(tmp_path / "attnlab.journal")
    study = optuna.create_study(study_name="cbam-arrangement@quick", storage=open_storage(url))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=21.5))
    return url


def test_dashboard_serves_the_study_on_localhost(journal: str) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "attnlab", "dashboard", "--storage", journal, "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status, page = _wait_for(f"http://127.0.0.1:{port}/dashboard/", server)
        assert status == 200 and b"<html" in page.lower()
        status, body = _get(f"http://127.0.0.1:{port}/api/studies")
        assert status == 200
        studies = json.loads(body)["study_summaries"]
        assert [study["study_name"] for study in studies] == ["cbam-arrangement@quick"]
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert f"http://127.0.0.1:{port}/dashboard/" in output.splitlines()[0]


def test_dashboard_bad_input_is_one_line(journal: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.journal"
    assert attnlab(["dashboard", "--storage", str(missing)]) == 2
    assert capsys.readouterr().err == f"attnlab dashboard: error: --storage {missing}: no such file; " + (
        "run 'attnlab ablate STUDY' first, or pass the storage it used (a .journal path, sqlite:///FILE, "
        "postgresql://...)\n"
    )
    assert not missing.exists()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert attnlab(["dashboard", "--storage", journal, "--port", str(port)]) == 2
    assert capsys.readouterr().err == (
        f"attnlab dashboard: error: --port {port}: already in use on 127.0.0.1; pick another, e.g. --port {port + 1}\n"
    )
    assert attnlab(["dashboard", "--storage", journal, "--port", "70000"]) == 2
    assert "--port: 70000 is not a TCP port; use 1-65535" in capsys.readouterr().err
