"""What a complete cell keeps of its checkpoints: the best (default), the last, or none."""

from __future__ import annotations

from pathlib import Path

import pytest

from attnlab.errors import ConfigError
from attnlab.sweeps.local.options import LaunchOptions
from attnlab.sweeps.runs.checkpoints import keep_checkpoints


@pytest.mark.parametrize(
    ("keep", "left"),
    [("best", ["best-epoch003.ckpt"]), ("last", ["last-v1.ckpt", "last.ckpt"]), ("none", [])],
)
def test_a_complete_cell_keeps_what_the_study_chose(tmp_path: Path, keep: str, left: list[str]) -> None:
    for name in ("best-epoch003.ckpt", "last.ckpt", "last-v1.ckpt"):
        (tmp_path / name).write_bytes(b"weights")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    keep_checkpoints(str(tmp_path / "best-epoch003.ckpt"), keep)
    assert sorted(path.name for path in tmp_path.glob("*.ckpt")) == left
    assert (tmp_path / "notes.txt").is_file()


def test_an_unknown_choice_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^--checkpoints: 'all'; use one of best, last, none$"):
        LaunchOptions(checkpoints="all")
