"""Shared test set-up: W&B offline and quiet, and every test's files under its own tmp dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_DISABLE_GIT", "true")
os.environ.setdefault("WANDB_CONSOLE", "off")


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs the test from tmp_path, so default output dirs (runs/, wandb/) land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
