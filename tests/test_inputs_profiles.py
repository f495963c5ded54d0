"""A profile (train config) file is read with the study files' bounds before jsonargparse sees it."""

import subprocess
import sys
from pathlib import Path

import pytest

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (BOMB, "expands to over"),
        ("- just\n- a list\n", "is not a train config"),
        ("trainer: {max_epochs: [\n", "YAML syntax error"),
    ],
)
def test_a_hostile_or_wrong_profile_is_refused_in_one_line_before_anything_is_written(
    tmp_path: Path, content: str, message: str
) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text(content)
    storage = tmp_path / "runs" / "attnlab.journal"
    command = [sys.executable, "-m", "attnlab", "ablate", "cbam-arrangement", "--profile", str(profile)]
    done = subprocess.run(
        [*command, "--storage", str(storage)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(profile) in lines[0]
    assert "x, x" not in lines[0]  # the file's content is never quoted
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", ["report", "explain"])
def test_report_and_explain_check_the_profile_as_ablate_does(tmp_path: Path, command: str) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("- just\n- a list\n")
    done = subprocess.run(
        [sys.executable, "-m", "attnlab", command, "cbam-arrangement", "--profile", str(profile)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert f"argument --profile: profile: {profile}: is not a train config" in last
    assert "just" not in last
    assert sorted(path.name for path in tmp_path.iterdir()) == ["profile.yaml"]
