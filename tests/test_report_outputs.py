"""The written report: Markdown, LaTeX (booktabs), CSV, JSON, self-contained HTML, and the CLI around them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from headless_browser import chromium, pixels_of, screenshot

from attnlab.cli.main import main as attnlab
from attnlab.reports.report import FIGURES_FOLDER, REPORT_FILES, Report, build_report, markdown_text, write_report
from attnlab.reports.spec import LoadedStudy, StudySpec
from attnlab.reports.tables import latex_escape, to_latex
from attnlab.sweeps.store.records import STUDY_PROFILE_ATTR, CellRecord, StepTiming
from attnlab.sweeps.store.storage import open_storage

ROWS = {"plain_net": (30.0, 31.0, 29.5), "cbam_k3 (50%)": (29.0, 30.0, 28.0), "se & co": (30.5, 31.5, 29.0)}


def sample_records() -> list[CellRecord]:
    records = [
        CellRecord(
            study="demo",
            row=row,
            seed=seed,
            axes={"model.attention.type": row},
            metrics={"test/top1_err": value, "test/top5_err": value / 3},
            params=11_690_000 if row == "plain_net" else 11_780_000,
            macs=1_814_000_000,
            train_images_per_s=1000.0 if row == "plain_net" else 850.0,
            state="complete",
        )
        for row, values in ROWS.items()
        for seed, value in enumerate(values)
    ]
    records[-1] = CellRecord(study="demo", row="se & co", seed=2, state="failed", failure_reason="loss is nan")
    return records


def sample_spec() -> StudySpec:
    return StudySpec(
        name="demo",
        profile="quick",
        rows=(*ROWS, "bam"),
        seeds=(0, 1, 2),
        baseline="plain_net",
        paper={"cbam_k3 (50%)": {"top1_err": 29.27, "top5_err": 10.09, "params_m": 11.78, "gflops": 1.815}},
    )


SAMPLE_TIMINGS = {
    "cpu: test": StepTiming(
        device="cpu: test",
        threads=1,
        batch_size=32,
        input_shape=(3, 32, 32),
        rounds=15,
        seconds={"plain_net": 0.100, "cbam_k3 (50%)": 0.118, "se & co": 0.105},
    ).to_dict()
}


@pytest.fixture
def report() -> Report:
    return build_report(LoadedStudy(sample_spec(), sample_records(), "hand-made", step_timings=SAMPLE_TIMINGS))


def _tabular_rows(latex: str) -> tuple[str, list[str]]:
    """The column spec and the body lines of the single tabular in ``latex``."""
    match = re.search(r"\\begin\{tabular\}\{([lrc]+)\}\n(.*?)\\end\{tabular\}", latex, re.S)
    assert match, latex
    return match.group(1), match.group(2).splitlines()


def test_latex_is_a_booktabs_fragment_with_escaped_cells(report: Report) -> None:
    latex = to_latex(report.tables()[0], comment="demo\nPARTIAL")
    spec, lines = _tabular_rows(latex)
    assert [lines[0], lines[2], lines[-1]] == [r"\toprule", r"\midrule", r"\bottomrule"]
    body = [line for line in lines if line.endswith(r"\\")]
    assert len(body) == 1 + 4  # header + 4 rows
    unescaped = re.compile(r"(?<!\\)[&%_#$]")
    for line in body:
        cells = re.split(r"(?<!\\)&", line.removesuffix(r"\\"))
        assert len(cells) == len(spec), line
        plain = [cell.replace(r"$\pm$", "").replace(r"$\Delta$", "") for cell in cells]  # the escapes' math mode
        assert not any(unescaped.search(cell) for cell in plain), line
    assert r"cbam\_k3 (50\%)" in latex and r"se \& co" in latex and r"plain\_net" in latex
    assert r"$\pm$" in latex and "±" not in latex and "—" not in latex
    assert latex.startswith("% demo\n% PARTIAL\n")
    assert latex_escape(r"a\b~c^d{e}$") == r"a\textbackslash{}b\textasciitilde{}c\textasciicircum{}d\{e\}\$"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex on this machine: the parse test covers it")
def test_latex_compiles_with_pdflatex(report: Report, tmp_path: Path) -> None:
    (tmp_path / "table.tex").write_text(to_latex(report.tables()[0]))
    document = r"\documentclass{article}\usepackage{booktabs}\begin{document}\input{table.tex}\end{document}"
    (tmp_path / "doc.tex").write_text(document)
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path, capture_output=True
    )
    assert run.returncode == 0, run.stdout.decode(errors="replace")[-2000:]


def test_markdown_has_the_paper_columns_statistics_and_partial_marker(report: Report) -> None:
    text = markdown_text(report)
    assert "**PARTIAL: 8/12 cells complete (1 failed, 3 missing)**" in text
    header = next(line for line in text.splitlines() if line.startswith("| Architecture"))
    for column in ("Param.", "GFLOPs", "Top-1 Err.", "Top-5 Err.", "95% CI", "Verdict", "Time overhead"):
        assert f" {column} |" in header
    assert "Top-1 Err. (paper)" in header and "Param. (paper)" in header
    assert header.startswith("| Architecture | Param. | Param. (paper) | GFLOPs | GFLOPs (paper) | Top-1 Err. |")
    results = text.split("## Cells")[0].splitlines()
    lines = {line.split(" | ")[0].removeprefix("| "): line for line in results if line.startswith("| ")}
    # cbam - plain = (-1, -1, -1.5): mean -7/6, t = -7, df = 2, p = 1 - 7/sqrt(51) = 0.0198, the only tested row;
    # time: 0.118 / 0.100 s per step = +18% (cells' throughput, 1000 vs 850 images/s, is not used)
    assert lines["cbam_k3 (50%)"].startswith(
        "| cbam_k3 (50%) | 11.78M | 11.78M | 1.814 | 1.815 | 29.00 ± 1.00 | 29.27 | 9.67 ± 0.33 | 10.09 | "
        "[26.52, 31.48] | -1.17 [-1.88, -0.45] | 3 | 0.020 | 0.020 | better (p_Holm=0.020) | +18% | 3/3 |"
    )
    # se & co - plain = (+0.5, +0.5) on its 2 complete seeds: no noise estimate, so no verdict
    assert "| 2 | — | — | n/a: the same difference on every seed (no noise estimate) |" in lines["se & co"]
    assert "| +5% | 2/3 (1 failed) | — | 0.00 [0.00, 0.84] |" in lines["se & co"]  # MDD: no spread; 0 of 2 won
    assert "| se & co | 2 | failed |" in text and "loss is nan" in text  # the per-cell table
    assert "| bam | 0 | missing |" in text
    assert "Holm–Bonferroni" in text and "Student t" in text


def test_written_files_agree(report: Report, tmp_path: Path) -> None:
    paths = write_report(report, tmp_path / "out")
    assert [path.name for path in paths] == list(REPORT_FILES)
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert summary["row"].tolist() == [*ROWS, "bam"]
    assert summary.loc[1, "test/top1_err.mean"] == pytest.approx(29.0)
    cells = pd.read_csv(tmp_path / "out" / "cells.csv")
    assert len(cells) == 12 and cells["state"].value_counts().to_dict() == {"complete": 8, "missing": 3, "failed": 1}
    payload = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert payload["partial"] and payload["cells"] == {
        "complete": 8,
        "running": 0,
        "waiting": 0,
        "pruned": 0,
        "failed": 1,
        "missing": 3,
        "expected": 12,
    }
    assert payload["rows"][3]["test/top1_err.mean"] is None  # NaN becomes null


def test_html_is_self_contained(report: Report, tmp_path: Path) -> None:
    write_report(report, tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") == 3 and html.count("<table>") == 3  # forest, by row, cost; results split in two
    assert "PARTIAL: 8/12 cells complete" in html
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\((?!#)", html, re.I)  # url(#id): in-page
    # the only URLs are the SVG namespaces, which browsers never fetch
    assert set(re.findall(r"https?://[^\s\"')]+", html)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="no chromium binary (Debian: apt-get install -y chromium)")
def test_html_renders_offline_in_headless_chromium(report: Report, tmp_path: Path) -> None:
    write_report(report, tmp_path / "report")
    image = screenshot(tmp_path / "report" / "report.html", tmp_path, 1400, 1800)
    assert image.shape == (1800, 1400, 3)
    assert image.std() > 20 and len(np.unique(image.reshape(-1, 3), axis=0)) > 200  # not blank
    assert pixels_of(image, "#1f77b4") > 2000  # the plots' row bars and points
    assert pixels_of(image, "#7f7f7f") > 500  # the baseline's bar
    assert pixels_of(image, "#fff3cd") > 2000  # the amber PARTIAL banner: the inline CSS applied


def _journal_with_study(tmp_path: Path) -> str:
    url = str(tmp_path / "attnlab.journal")
    study = optuna.create_study(study_name="demo@quick", storage=open_storage(url))
    study.set_user_attr(STUDY_PROFILE_ATTR, "quick")
    for record in sample_records():
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.COMPLETE if record.state == "complete" else optuna.trial.TrialState.FAIL,
                value=record.metrics.get("test/top1_err"),
                user_attrs=record.to_user_attrs(),
            )
        )
    return url


def test_cli_prints_json_and_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _journal_with_study(tmp_path)
    out = tmp_path / "out"
    assert attnlab(["report", "demo", "--storage", url, "-o", str(out), "--format", "json"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["study"] == "demo" and payload["baseline"] == "plain_net"  # inferred: no definition stored
    assert payload["status"] == "PARTIAL: 8/9 cells complete (1 failed)"
    assert [row["row"] for row in payload["rows"]] == list(ROWS)
    assert payload["rows"][1]["paired.diff"] == pytest.approx(-7 / 6)
    assert sorted(path.name for path in out.iterdir()) == sorted([*REPORT_FILES, FIGURES_FOLDER])
    assert "wrote report.md" in captured.err


def test_cli_prints_the_markdown_table_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _journal_with_study(tmp_path)
    assert attnlab(["report", "demo", "--storage", url, "-o", str(tmp_path / "out"), "--correction", "none"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[1] == "PARTIAL: 8/9 cells complete (1 failed)"
    assert "| Architecture | Param. | GFLOPs | Top-1 Err. | Top-5 Err. |" in printed
    assert "p (Holm)" not in printed and "unadjusted p-values" in printed


def test_cli_takes_the_study_file_ablate_took(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _journal_with_study(tmp_path)
    study_file = tmp_path / "my-demo.yaml"  # named demo inside, as `attnlab ablate my-demo.yaml` stored it
    study_file.write_text(
        "name: demo\ndescription: a demo\nseeds: [0, 1]\nbaseline: plain_net\n"
        "rows:\n  plain_net: {patch: {model.attention.type: none}}\n  cbam: {}\n",
        encoding="utf-8",
    )
    assert attnlab(["report", str(study_file), "--storage", url, "-o", str(tmp_path / "out"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["study"] == "demo"
    with pytest.raises(SystemExit) as exited:
        attnlab(["report", str(tmp_path / "missing.yaml"), "--storage", url])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(f"study: '{tmp_path / 'missing.yaml'}' does not exist\n")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--storage", "{tmp}/none.journal"], "--storage {tmp}/none.journal: no such file"),
        (["--wandb", "not-a-path"], "--wandb: 'not-a-path' is not a project path; use ENTITY/PROJECT"),
        (["--wandb-dir", "{tmp}/nowhere"], "--wandb-dir {tmp}/nowhere: not a directory"),
        (["--logs", "{tmp}"], "--logs {tmp}: no metrics.csv under it"),
        (["--storage", "{tmp}/attnlab.journal", "--baseline", "x"], "--baseline: 'x' is not a row of demo"),
        (["--storage", "{tmp}/attnlab.journal", "--metric", "val/loss"], "--metric: no cell logged 'val/loss'"),
    ],
)
def test_cli_bad_input_is_one_line(
    arguments: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _journal_with_study(tmp_path)
    argv = ["report", "demo", "-o", str(tmp_path / "out"), *(a.format(tmp=tmp_path) for a in arguments)]
    assert attnlab(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"attnlab report: error: {message.format(tmp=tmp_path)}")
    assert error.count("\n") == 1
    assert not (tmp_path / "out").exists()  # nothing written before the input is valid
