"""Run folders are the storage's: a same-named study in another storage never shares, overwrites or resumes them."""

from __future__ import annotations

from pathlib import Path

import optuna
import torch

from attnlab.sweeps.runs.resume import resume_override
from attnlab.sweeps.store.settings import log_folder, open_study
from attnlab.sweeps.store.storage import open_storage

SETTINGS = {"kind": "cells", "overrides": {"model.randomness": "common"}}


def _opened(url: str) -> optuna.Study:
    return open_study(open_storage(url), url, "s@quick", "minimize", SETTINGS, {})


def test_one_study_name_in_two_storages_logs_to_two_folders_and_keeps_its_own(tmp_path: Path) -> None:
    first_url, second_url = str(tmp_path / "independent.journal"), str(tmp_path / "common.journal")
    first, second = log_folder(_opened(first_url)), log_folder(_opened(second_url))
    assert first != second
    assert first.startswith("s@quick-") and second.startswith("s@quick-")
    assert log_folder(_opened(first_url)) == first  # reopened (resumed, another worker): the same folder


def test_a_cell_never_resumes_from_the_same_cell_of_another_storage(tmp_path: Path) -> None:
    config = {"trainer": {"logger": {"init_args": {"save_dir": str(tmp_path), "name": "attnlab", "version": None}}}}
    other = log_folder(_opened(str(tmp_path / "other.journal")))
    finished = tmp_path / "attnlab" / other / "row" / "seed0" / "trial0" / "checkpoints"
    finished.mkdir(parents=True)
    torch.save({}, finished / "last.ckpt")  # a whole checkpoint (a torn one is passed over)
    assert resume_override(config, other, "row/seed0", 3) == {"ckpt_path": str(finished / "last.ckpt")}
    ours = log_folder(_opened(str(tmp_path / "ours.journal")))
    assert resume_override(config, ours, "row/seed0", 3) == {}


def test_a_study_created_before_run_folders_had_a_token_keeps_its_name(tmp_path: Path) -> None:
    study = optuna.create_study(storage=open_storage(str(tmp_path / "old.journal")), study_name="old@quick")
    assert log_folder(study) == "old@quick"
