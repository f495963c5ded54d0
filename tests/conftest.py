"""Shared test set-up: one thread per process, W&B offline and quiet, each test's files in its own tmp dir.

One compute thread per process: the tests' models are tiny, several tests start 2-process DDP runs
or worker pairs on a 2-core machine, and oversubscribed OpenMP threads slow everything tenfold.
The variables are inherited by every subprocess a test starts.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_DISABLE_GIT", "true")
os.environ.setdefault("WANDB_CONSOLE", "off")
torch.set_num_threads(1)


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs the test from tmp_path, so default output dirs (runs/, wandb/) land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
