"""The best checkpoint of every complete cell of a study, and the trained model and datamodule it holds.

A cell's record keeps its resolved config, whose logger names the run folder
(``save_dir/name/version/checkpoints``): that is where Lightning's ``ModelCheckpoint`` kept the best
epoch. The checkpoint carries the model's and the datamodule's hyper-parameters, so both are rebuilt
from it alone, as they were trained.
"""

from __future__ import annotations

import importlib
import json
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from attnlab.errors import ConfigError
from attnlab.reports.cells import COMPLETE
from attnlab.reports.spec import StudySpec
from attnlab.sweeps.store.records import CellRecord

BEST_PATTERN = "best*.ckpt"  # ModelCheckpoint's file name in AttentionClassifier.configure_callbacks


@dataclass(frozen=True)
class CellCheckpoint:
    """One complete cell and the file of its best epoch."""

    row: str
    seed: int
    path: Path

    @property
    def cell(self) -> str:
        return f"{self.row}/seed{self.seed}"


def run_folder(record: CellRecord) -> Path:
    """The cell's log folder, from its config's logger (``save_dir/name/version``)."""
    logger = record.config.get("trainer", {}).get("logger")
    init = logger.get("init_args") if isinstance(logger, dict) else None
    if not init or not all(init.get(key) is not None for key in ("save_dir", "name", "version")):
        raise ConfigError(
            f"cell {record.cell}: its config names no log folder (trainer.logger save_dir/name/version), "
            "so its checkpoint cannot be found"
        )
    return Path(init["save_dir"], init["name"], str(init["version"]))


def best_checkpoint(record: CellRecord) -> Path:
    """The newest ``best*.ckpt`` of the cell's run; a one-line error naming the cell when there is none."""
    folder = run_folder(record) / "checkpoints"
    found = sorted(folder.glob(BEST_PATTERN), key=lambda path: path.stat().st_mtime)
    if not found:
        raise ConfigError(
            f"cell {record.cell}: no best checkpoint ({BEST_PATTERN}) in {folder}; "
            "run 'attnlab ablate' from this folder, or keep the best checkpoint of each cell"
        )
    return found[-1]


def complete_checkpoints(spec: StudySpec, records: Iterable[CellRecord]) -> list[CellCheckpoint]:
    """The best checkpoint of every complete cell, in the table's row order, then by seed."""
    complete = {(record.row, record.seed): record for record in records if record.state == COMPLETE}
    order = {row: position for position, row in enumerate(spec.rows)}
    cells = sorted(complete, key=lambda key: (order.get(key[0], len(order)), key[1]))
    return [CellCheckpoint(row, seed, best_checkpoint(complete[row, seed])) for row, seed in cells]


# What torch.load raises for a payload weights_only refuses (it did not run) or a torn file.
UNREADABLE = (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError)


def unreadable(path: Path, error: Exception) -> ConfigError:
    """The one line for a checkpoint torch.load refused: the file and the kind of error, never its bytes."""
    return ConfigError(
        f"{path}: is not a checkpoint torch.load(weights_only=True) accepts ({type(error).__name__}); "
        "expected one that attnlab train wrote"
    )


def load_model(path: Path) -> torch.nn.Module:
    """The trained classifier of a checkpoint, on the CPU, in evaluation mode."""
    from attnlab.modules.classifier import AttentionClassifier

    try:
        return AttentionClassifier.load_from_checkpoint(path, map_location="cpu").eval()
    except UNREADABLE as error:
        raise unreadable(path, error) from None


def datamodule_settings(path: Path) -> dict[str, Any]:
    """The datamodule's hyper-parameters stored in a checkpoint (``_class_path`` among them)."""
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True).get("datamodule_hyper_parameters")
    except UNREADABLE as error:
        raise unreadable(path, error) from None
    if not stored or "_class_path" not in stored:
        raise ConfigError(f"{path}: the checkpoint holds no datamodule settings; it was not trained by attnlab")
    return dict(stored)


def load_datamodule(path: Path, settings: dict[str, Any]) -> Any:
    """The datamodule a checkpoint was trained on, rebuilt from its stored settings."""
    module_name, _, class_name = settings["_class_path"].rpartition(".")
    # Lightning only rebuilds classes already imported (it will not import a checkpoint's choice itself).
    datamodule_class = getattr(importlib.import_module(module_name), class_name)
    return datamodule_class.load_from_checkpoint(path)


def settings_key(settings: dict[str, Any]) -> str:
    """Equal for checkpoints trained on the same data (so they share one datamodule and one set of images)."""
    return json.dumps(settings, sort_keys=True, default=str)
