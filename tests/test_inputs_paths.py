"""Names that become paths and files read as YAML: each bad one is a one-line refusal (exit 2 from the
CLI) naming the field and what is valid, with nothing written outside the case's own folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from attnlab.ablations import load_study
from attnlab.cli.main import main
from attnlab.errors import ConfigError
from attnlab.safe_paths import check_path_name, path_inside

STUDY = """\
name: {name}
description: a probe
seeds: [0]
baseline: plain
rows:
  plain: {{patch: {{model.attention.type: none}}}}
  {row}: {{patch: {{model.attention.type: se}}}}
"""


def refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The one error line of a CLI run that must exit 2."""
    with pytest.raises(SystemExit) as exit_info:
        code = main(argv)
        raise SystemExit(code)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines, "no error line"
    return lines[-1]


@pytest.fixture
def case_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The case's folder as working directory; ``runs/`` (the default output root) lies inside it."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*")}


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "a\\b", "/etc", "x" * 300])
def test_a_name_that_is_not_one_path_part_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=r"^study: .*use a plain name of 1-100 characters"):
        check_path_name("study", name)


def test_path_inside_refuses_a_symlink_that_leads_out(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    with pytest.raises(ConfigError, match="would leave"):
        path_inside(tmp_path / "root", "link", "study")
    assert path_inside(tmp_path / "root", "fine", "study") == tmp_path / "root" / "fine"


@pytest.mark.parametrize("label", ["../escaped", "/tmp/escaped-abs", "..", "a/../../b"])
@pytest.mark.parametrize("command", ["report", "explain"])
def test_a_logs_label_cannot_leave_runs_reports(
    case_dir: Path, capsys: pytest.CaptureFixture[str], command: str, label: str
) -> None:
    (case_dir / "logs").mkdir()
    before = files_under(case_dir.parent)
    line = refused(capsys, [command, label, "--logs", "logs"])
    assert "study:" in line and "plain name" in line
    assert files_under(case_dir.parent) == before
    assert not Path("/tmp/escaped-abs").exists()


def test_a_300_character_study_name_is_refused_by_the_name_check(case_dir: Path) -> None:
    path = case_dir / "long.yaml"
    path.write_text(STUDY.format(name="a" * 300, row="se"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"long.yaml: name: a name of 300 characters is too long"):
        load_study(path)


@pytest.mark.parametrize("row", ["'..'", "'.'", "'a\\\\b'"])
def test_a_row_name_that_would_move_its_logs_is_refused(case_dir: Path, row: str) -> None:
    path = case_dir / "rows.yaml"
    path.write_text(STUDY.format(name="probe", row=row), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rows.yaml: rows: .*use a plain name"):
        load_study(path)


def test_a_file_that_is_not_a_study_is_named_without_quoting_it(
    case_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = case_dir / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (case_dir / "passwd.yaml").symlink_to(secret)
    line = refused(capsys, ["report", "passwd.yaml"])
    assert "passwd.yaml" in line and "is not a study: expected a mapping" in line
    assert "root" not in line.replace("/root", "")  # the path may contain it; the content must not
    assert "bash" not in line


BOMB = "\n".join(
    ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
)


def test_an_alias_bomb_is_refused_fast(case_dir: Path) -> None:
    path = case_dir / "bomb.yaml"
    path.write_text(BOMB + "\n", encoding="utf-8")
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"bomb.yaml: expands to over 100000 values through YAML aliases"):
        load_study(path)
    assert time.monotonic() - start < 2


def test_deep_nesting_is_refused(case_dir: Path) -> None:
    path = case_dir / "deep.yaml"
    path.write_text("[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"deep.yaml: nests deeper than 32 levels"):
        load_study(path)


def test_a_huge_file_is_refused_before_it_is_read(case_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = case_dir / "huge.yaml"
    with path.open("wb") as stream:  # sparse: 2 GB on paper, nothing on disk
        stream.truncate(2 * 1024**3)
    opened: list[str] = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: opened.append(str(self)) or real_open(self, *a, **k))
    with pytest.raises(ConfigError, match=r"huge.yaml: is 2147483648 bytes, over the 1000000-byte limit"):
        load_study(path)
    assert str(path) not in opened
    os.remove(path)


def test_a_sweep_file_is_read_with_the_same_bounds_and_name_check(case_dir: Path) -> None:
    from attnlab.sweeps.workers.sweep_file import load_sweep

    bomb = case_dir / "bomb-sweep.yaml"
    bomb.write_text(BOMB + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bomb-sweep.yaml'?: expands to over 100000 values"):
        load_sweep(bomb)
    long = case_dir / "long-sweep.yaml"
    long.write_text(f"name: {'s' * 300}\nspace: {{optim.lr: {{type: float, low: 0.001, high: 0.1}}}}\nn_trials: 2\n")
    with pytest.raises(ConfigError, match=r"^name: a name of 300 characters is too long"):
        load_sweep(long)
