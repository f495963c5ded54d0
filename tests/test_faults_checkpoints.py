"""A resume checkpoint cut short by a kill: passed over for the newest readable one, else a fresh start."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from attnlab.sweeps.runs.resume import is_readable_checkpoint, resume_override


def _config(root: Path) -> dict:
    return {"trainer": {"logger": {"init_args": {"save_dir": str(root), "name": "attnlab", "version": None}}}}


def _checkpoint(path: Path, size_mb: float = 0.5) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {"w": torch.arange(int(size_mb * 262144), dtype=torch.float32)}, "epoch": 3}, path)
    return path.read_bytes()


def test_a_torn_last_checkpoint_falls_back_to_an_older_attempts_last_not_to_a_best_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cell = tmp_path / "attnlab" / "s@p" / "row" / "seed0"
    _checkpoint(cell / "trial1" / "checkpoints" / "last.ckpt")
    whole = _checkpoint(cell / "trial2" / "checkpoints" / "last.ckpt")
    _checkpoint(cell / "trial2" / "checkpoints" / "best-epoch001.ckpt")  # never resumed from: see resume.py
    (cell / "trial2" / "checkpoints" / "last.ckpt").write_bytes(whole[: len(whole) // 2])  # cut by a kill
    with caplog.at_level(logging.WARNING):
        override = resume_override(_config(tmp_path), "s@p", "row/seed0", 5)
    assert override == {"ckpt_path": str(cell / "trial1" / "checkpoints" / "last.ckpt")}
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith(str(cell / "trial2" / "checkpoints" / "last.ckpt")) and "not a whole checkpoint" in line


def test_every_checkpoint_torn_means_a_fresh_start_not_a_failure(tmp_path: Path) -> None:
    cell = tmp_path / "attnlab" / "s@p" / "row" / "seed0"
    for number in (1, 3):
        path = cell / f"trial{number}" / "checkpoints" / "last.ckpt"
        whole = _checkpoint(path)
        path.write_bytes(whole[:-100])  # only the zip directory's end lost
    assert resume_override(_config(tmp_path), "s@p", "row/seed0", 5) == {}


def test_an_older_attempts_whole_checkpoint_is_used_when_the_newest_is_torn(tmp_path: Path) -> None:
    cell = tmp_path / "attnlab" / "s@p" / "row" / "seed0"
    _checkpoint(cell / "trial1" / "checkpoints" / "last.ckpt")
    newest = cell / "trial3" / "checkpoints" / "last.ckpt"
    newest.write_bytes(_checkpoint(newest)[:1000])
    assert resume_override(_config(tmp_path), "s@p", "row/seed0", 5) == {
        "ckpt_path": str(cell / "trial1" / "checkpoints" / "last.ckpt")
    }


def test_a_flipped_byte_inside_a_checkpoint_makes_it_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    data = bytearray(_checkpoint(path))
    assert is_readable_checkpoint(path)
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert not is_readable_checkpoint(path)
    assert not is_readable_checkpoint(tmp_path / "missing.ckpt")
