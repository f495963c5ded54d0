"""Every command's table survives a pipe: run in a real pipe on a narrow "terminal", names stay whole on one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.table import Table
from test_report_outputs import ROWS, _journal_with_study

from attnlab.ablations import builtin_studies, load_study
from attnlab.cli.output import plain_table

REPO = Path(__file__).resolve().parents[1]


def _piped(*argv: str) -> str:
    """stdout of ``attnlab ARGV`` through a pipe, with COLUMNS=40 so any wrapping would show."""
    environment = os.environ | {"COLUMNS": "40", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "attnlab", *argv], capture_output=True, env=environment)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def _line_with(text: str, needle: str) -> str:
    (line,) = [line for line in text.splitlines() if needle in line]
    return line


def test_studies_listing_keeps_every_name_and_size_on_its_line() -> None:
    out = _piped("studies")
    for name, path in builtin_studies().items():
        study = load_study(path)
        line = _line_with(out, f"{name} ")
        assert line.startswith(name) and f"{len(study.rows)} × {len(study.seeds)}" in line
        assert study.description in line  # not cut either
    assert "cbam-channel-pooling" in out.split()


def test_one_study_keeps_every_row_and_its_paper_numbers_on_a_line() -> None:
    out = _piped("studies", "cbam-backbones")
    line = _line_with(out, "ResNeXt-50 (32x4d) + CBAM")
    assert "model.backbone.name=resnext50_32x4d, model.attention.type=cbam" in line
    resnet50_cbam = _line_with(out, "ResNet-50 + CBAM ")
    assert resnet50_cbam.split()[-5:] == ["22.66", "6.31", "28.09", "3.864", "ResNet-50"]


def test_list_values_in_patches_print_as_text_not_markup() -> None:
    out = _piped("studies", "cbam-spatial")
    assert "model.attention.channel_pool=[avg, max]" in _line_with(out, "  base ")
    line = _line_with(out, "(avg & max, k = 3)")
    assert "model.attention.spatial_pool=[avg, max], model.attention.kernel_size=3" in line


def test_describe_tables_and_json_in_a_pipe() -> None:
    out = _piped("describe", "--backbone", "resnet18", "--attention", "se")
    assert _line_with(out, "total").split() == ["total", "11,778,592", "1.8142"]
    assert "attention adds 89,080 params" in _line_with(out, "to the backbone")  # one line, not wrapped
    assert json.loads(_piped("describe", "--format", "json", "--attention", "se"))["params"] == 11_778_592


@pytest.mark.slow  # builds the paper's seven models
def test_describe_paper_table_in_a_pipe() -> None:
    paper = _piped("describe", "--table", "paper")
    assert _line_with(paper, "ResNet-50 + CBAM").split()[3:] == ["28.09M", "28.09M", "3.864", "3.864", "yes"]


def test_report_table_and_json_in_a_pipe(tmp_path: Path) -> None:
    url = _journal_with_study(tmp_path)
    out = _piped("report", "demo", "--storage", url, "-o", str(tmp_path / "out"))
    table_rows = [line for line in out.splitlines() if line.startswith("| ")]
    for row in ROWS:
        assert any(line.startswith(f"| {row} ") for line in table_rows), row
    payload = json.loads(_piped("report", "demo", "--storage", url, "-o", str(tmp_path / "out"), "--format", "json"))
    assert [row["row"] for row in payload["rows"]] == list(ROWS)


def test_plain_table_joins_cell_lines_and_drops_markup() -> None:
    table = Table(title="costs")
    table.add_column("name")
    table.add_column("paper\nGMACs", justify="right")
    table.add_row("a-very-long-name-that-rich-would-fold", "[green]1.5[/]")
    table.add_row("b", "k=1\nv=2")
    assert plain_table(table).splitlines() == [
        "costs",
        "name                                   paper GMACs",
        "a-very-long-name-that-rich-would-fold          1.5",
        "b                                         k=1, v=2",
    ]
