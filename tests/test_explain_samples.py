"""The seeded images explain shows, with the objects' boxes: cluttered digits know them, image folders read a CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fixtures_data import write_image_folder

from attnlab.datamodules import ClutteredDigitsDataModule, DigitsDataModule, ImageFolderDataModule
from attnlab.datamodules.batch_transforms import normalise
from attnlab.datamodules.image_transforms import EvalImageTransform
from attnlab.errors import ConfigError

SMALL = {"num_train": 64, "num_val": 32, "num_test": 40}


def test_cluttered_samples_are_seeded_normalised_and_boxed() -> None:
    datamodule = ClutteredDigitsDataModule(**SMALL)
    shown = datamodule.shown_samples("test", 5, seed=3)
    assert shown.indices == datamodule.shown_samples("test", 5, seed=3).indices
    assert shown.indices != datamodule.shown_samples("test", 5, seed=4).indices
    split = datamodule.splits.test
    index = torch.tensor(shown.indices)
    assert torch.equal(shown.pictures, split.images[index]) and torch.equal(shown.labels, split.labels[index])
    mean, std = datamodule._train_transform.mean, datamodule._train_transform.std
    assert torch.allclose(shown.inputs, normalise(shown.pictures, mean, std))
    for picture, ((x0, y0, x1, y1),) in zip(shown.pictures, shown.boxes, strict=True):
        assert (x1 - x0, y1 - y0) == (16, 16) and x0 >= 0 and x1 <= 32 and y0 >= 0 and y1 <= 32
        assert picture[0, y0:y1, x0:x1].mean() > picture[0].mean()  # the digit's strokes are in its box
    assert len(datamodule.shown_samples("val", 100, seed=0).indices) == 32  # all of a smaller split


def test_datasets_without_boxes_and_bad_choices() -> None:
    digits = DigitsDataModule()
    assert digits.shown_samples("test", 2, seed=0).boxes is None
    with pytest.raises(ConfigError, match=r"^--split: 'dev' is not a split; use one of train, val, test$"):
        digits.shown_samples("dev", 2, seed=0)
    with pytest.raises(ConfigError, match=r"^--images: 0 is not a number of images; valid: 1 or more$"):
        digits.shown_samples("test", 0, seed=0)


def test_eval_transform_maps_boxes_into_the_centre_crop() -> None:
    transform = EvalImageTransform(resize=32, size=16)
    # 64×32 -> 64×32 resized (shorter side 32), crop x 24..40, y 8..24
    assert transform.map_box((30, 10, 34, 20), 64, 32) == (6, 2, 10, 12)
    assert transform.map_box((0, 0, 20, 30), 64, 32) is None  # left of the crop
    assert transform.map_box((20, 0, 64, 32), 64, 32) == (0, 0, 16, 16)  # clipped to it


def test_image_folder_reads_boxes_from_a_csv(tmp_path: Path) -> None:
    write_image_folder(tmp_path, "train", {"cat": 3, "dog": 3}, (40, 40))
    write_image_folder(tmp_path, "val", {"cat": 2, "dog": 2}, (40, 40))
    boxes = tmp_path / "boxes.csv"
    lines = [
        "file,x0,y0,x1,y1",
        "val/cat/cat_0.png,4,4,12,12",
        "val/cat/cat_0.png,30,30,40,40",
        "val/dog/dog_1.JPEG,0,0,40,40",
    ]
    boxes.write_text("\n".join(lines) + "\n")
    datamodule = ImageFolderDataModule(
        tmp_path, crop_size=20, resize_size=20, num_workers=0, val_fraction=0.5, boxes_csv=boxes
    )
    shown = datamodule.shown_samples("test", 4, seed=0)
    assert shown.inputs.shape == (4, 3, 20, 20) and shown.pictures.min() >= 0 and shown.pictures.max() <= 1
    by_file = dict(zip([datamodule.samples["test"][0][i].name for i in shown.indices], shown.boxes, strict=True))
    # 40×40 -> 20×20: halved, no crop
    assert by_file == {
        "cat_0.png": ((2, 2, 6, 6), (15, 15, 20, 20)),
        "cat_1.JPEG": (),
        "dog_0.png": (),
        "dog_1.JPEG": ((0, 0, 20, 20),),
    }
    no_boxes = ImageFolderDataModule(tmp_path, crop_size=20, resize_size=20, num_workers=0, val_fraction=0.5)
    assert no_boxes.shown_samples("test", 2, seed=0).boxes is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,a,b,c,d\n", "starts with \\['name', 'a', 'b', 'c', 'd'\\]; valid header: file,x0,y0,x1,y1"),
        ("file,x0,y0,x1,y1\nval/a.png,1,2,3\n", "line 2 has 4 fields; valid: 5"),
        ("file,x0,y0,x1,y1\nval/a.png,5,2,3,4\n", "line 2: box \\['5', '2', '3', '4'\\] is empty or negative"),
        ("file,x0,y0,x1,y1\nval/a.png,a,2,3,4\n", "line 2: \\['a', '2', '3', '4'\\] are not pixel coordinates"),
    ],
)
def test_a_bad_boxes_csv_is_one_line(tmp_path: Path, content: str, message: str) -> None:
    write_image_folder(tmp_path, "train", {"cat": 2}, (8, 8))
    write_image_folder(tmp_path, "val", {"cat": 1}, (8, 8))
    (tmp_path / "boxes.csv").write_text(content)
    datamodule = ImageFolderDataModule(
        tmp_path, crop_size=8, resize_size=8, num_workers=0, val_fraction=0.5, boxes_csv=tmp_path / "boxes.csv"
    )
    with pytest.raises(ConfigError, match=rf"^data.boxes_csv: {tmp_path}/boxes.csv {message}"):
        datamodule.setup("test")
