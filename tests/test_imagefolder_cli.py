"""An image folder trains through the LightningCLI with its classes counted from ``train/``, none given."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_data import write_image_folder

from attnlab.errors import ConfigError
from attnlab.training import run_training, validate_train_args

TINY_RUN = [
    "--data=attnlab.datamodules.ImageFolderDataModule",
    "--data.crop_size=32",
    "--data.resize_size=36",
    "--data.batch_size=4",
    "--data.num_workers=0",
    "--data.val_fraction=0.25",
    "--model.backbone.width=0.25",
    "--model.backbone.stem=cifar",
    "--trainer.accelerator=cpu",
    "--trainer.max_epochs=1",
    "--trainer.enable_progress_bar=false",
    "--run_test=false",
]


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    write_image_folder(tmp_path, "train", {"ant": 4, "bee": 4, "cat": 4}, size=(40, 30))
    write_image_folder(tmp_path, "val", {"ant": 1, "bee": 1, "cat": 1}, size=(40, 30))
    return tmp_path


def test_image_folder_trains_without_num_classes(image_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(image_root)
    args = [*TINY_RUN, f"--data.root={image_root}"]
    assert validate_train_args(args)["model"]["num_classes"] == 3
    result = run_training(args, run_test=False)
    assert result.config["model"]["num_classes"] == 3
    assert 0 <= result.metrics["val/top1_err"] <= 100


def test_a_given_num_classes_that_disagrees_with_the_folders_is_one_line(
    image_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(image_root)
    with pytest.raises(ConfigError, match=r"^data\.num_classes: 5 given, but .*train has 3 class folders") as error:
        run_training([*TINY_RUN, f"--data.root={image_root}", "--data.num_classes=5"], run_test=False)
    assert "\n" not in str(error.value)
