"""The real pages in headless Chromium: optuna-dashboard on a small finished study, and the report at 1280 px.

The study is hand-made (no training): trials carry real cell records, design-axis params and
validation curves as the cell workers write them; ``attnlab report`` then writes the note and artifacts.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from headless_browser import chromium

from attnlab.ablations import Cell
from attnlab.cli.main import main as attnlab
from attnlab.sweeps.store.dashboard_meta import cell_params, design_distributions
from attnlab.sweeps.store.records import STUDY_PROFILE_ATTR, CellRecord
from attnlab.sweeps.store.storage import open_storage

SCREENS = Path("/tmp/screens")
ERRORS = {"plain": (30.0, 31.0, 29.5), "se": (29.6, 30.4, 29.0), "cbam": (28.0, 29.1, 27.6)}
KINDS = {"plain": "none", "se": "se", "cbam": "cbam"}
needs_chromium = pytest.mark.skipif(chromium() is None, reason="no chromium (Debian: apt-get install -y chromium)")


def _cells() -> list[Cell]:
    return [Cell("demo", row, seed, {"model.attention.type": KINDS[row]}, {}) for row in ERRORS for seed in range(3)]


def _study(tmp_path: Path) -> str:
    url = str(tmp_path / "attnlab.journal")
    study = optuna.create_study(study_name="demo@quick", storage=open_storage(url))
    study.set_user_attr(STUDY_PROFILE_ATTR, "quick")
    study.set_metric_names(["test/top1_err"])
    cells = _cells()
    distributions = design_distributions(cells)
    for cell in cells:
        error = ERRORS[cell.row][cell.seed]
        record = CellRecord(
            study="demo",
            row=cell.row,
            seed=cell.seed,
            axes=cell.axes,
            metrics={"test/top1_err": error},
            params=1_000_000,
            state="complete",
        )
        params = cell_params(cell, distributions)
        study.add_trial(
            optuna.trial.create_trial(
                value=error,
                params=params,
                distributions={key: distributions[key] for key in params},
                user_attrs=record.to_user_attrs(),
                intermediate_values={epoch: error + 12 / (epoch + 1) for epoch in range(6)},
            )
        )
    return url


def _dom(url: str, folder: Path, width: int, height: int, shot: Path) -> str:
    """The page's DOM after its scripts ran, and a screenshot of it."""
    common = [
        str(chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={folder / 'profile'}",
        f"--window-size={width},{height}",
        "--virtual-time-budget=15000",
    ]
    subprocess.run([*common, f"--screenshot={shot}", url], check=True, capture_output=True, timeout=120)
    done = subprocess.run([*common, "--dump-dom", url], check=True, capture_output=True, text=True, timeout=120)
    return done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _report(tmp_path: Path) -> tuple[str, Path]:
    url = _study(tmp_path)
    out = tmp_path / "report"
    assert attnlab(["report", "demo", "--storage", url, "-o", str(out)]) == 0
    return url, out


@pytest.mark.slow
@needs_chromium
def test_report_fits_1280_px_and_shows_forest_plot_and_curves(tmp_path: Path) -> None:
    _, out = _report(tmp_path)
    html = (out / "report.html").read_text()
    probe = "<script>window.onload=()=>{document.body.dataset.overflow=[...document.querySelectorAll('.scroll')]"
    probe += ".filter(d=>d.scrollWidth>d.clientWidth).length}</script></body>"
    page = out / "probe.html"
    page.write_text(html.replace("</body>", probe), encoding="utf-8")
    SCREENS.mkdir(parents=True, exist_ok=True)
    dom = _dom(page.as_uri(), tmp_path, 1280, 2400, tmp_path / "report.png")
    shutil.copy(tmp_path / "report.png", SCREENS / "report-1280.png")
    assert 'data-overflow="0"' in dom  # no table needs a horizontal scroll bar at 1280 px
    assert dom.index("<h2>Results</h2>") < dom.index("Paired differences to the baseline") < dom.index("Notes")
    assert "Learning curves" in dom and dom.count("<svg") >= 4


@pytest.mark.slow
@needs_chromium
def test_dashboard_shows_metric_axes_and_verdict_note(tmp_path: Path) -> None:
    url, _ = _report(tmp_path)
    port = _free_port()
    command = [sys.executable, "-m", "attnlab", "dashboard", "--storage", url, "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.3)
        SCREENS.mkdir(parents=True, exist_ok=True)
        page = f"http://127.0.0.1:{port}/dashboard/studies/0"
        dom = _dom(page, tmp_path, 1400, 2400, tmp_path / "dashboard.png")
        shutil.copy(tmp_path / "dashboard.png", SCREENS / "dashboard-study.png")
        note = _dom(f"{page}/note", tmp_path, 1400, 1400, tmp_path / "note.png")  # the study note's own page
        shutil.copy(tmp_path / "note.png", SCREENS / "dashboard-note.png")
    finally:
        server.terminate()
        server.communicate(timeout=10)
    assert "test/top1_err" in dom  # the metric's name on the history plot's axis
    assert "Hyperparameter Importance" in dom and "model.attention.type" in dom  # a design axis in the panel
    assert re.search(r"<th[^>]*>Verdict</th>", note) and "better (p_Holm" in note  # the note's table, rendered
