"""Image folders: JPEG/PNG class folders decoded in workers, and the ImageNet transforms written on PIL/torch."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures_data import write_image_folder
from PIL import Image

from attnlab.datamodules import ImageFolderDataModule
from attnlab.datamodules.image_transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    EvalImageTransform,
    TrainImageTransform,
    random_resized_crop_box,
    shorter_side_size,
)
from attnlab.errors import ConfigError


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    write_image_folder(tmp_path, "train", {"ant": 10, "bee": 10, "cat": 10}, size=(40, 30))
    write_image_folder(tmp_path, "val", {"ant": 3, "bee": 2, "cat": 3}, size=(30, 44))
    return tmp_path


def test_image_folder_yields_normalised_crops_for_every_split(image_root: Path):
    datamodule = ImageFolderDataModule(
        root=image_root, batch_size=4, crop_size=24, resize_size=28, val_fraction=0.2, num_workers=2
    )
    assert (datamodule.num_classes, datamodule.in_channels, datamodule.image_size) == (3, 3, 24)
    assert datamodule.classes == ["ant", "bee", "cat"]
    datamodule.setup("fit")
    assert {name: len(files) for name, (files, _) in datamodule.samples.items()} == {"train": 24, "val": 6, "test": 8}
    for loader in (datamodule.train_dataloader(), datamodule.val_dataloader(), datamodule.test_dataloader()):
        batches = list(loader)
        images, labels = batches[0]
        assert images.shape == (4, 3, 24, 24) and images.dtype == torch.float32 and labels.dtype == torch.int64
        all_labels = torch.cat([labels for _, labels in batches])
        assert set(all_labels.tolist()) == {0, 1, 2}
    assert datamodule.samples["test"][1].tolist() == [0, 0, 0, 1, 1, 2, 2, 2]


def test_validation_carve_out_shares_no_file_with_training_or_test(image_root: Path):
    datamodule = ImageFolderDataModule(root=image_root, val_fraction=0.3)
    datamodule.setup("fit")
    train, val, test = (set(datamodule.samples[name][0]) for name in ("train", "val", "test"))
    assert len(val) == 9 and not train & val and not (train | val) & test
    assert all(path.parent.parent.name == "val" for path in test)


def test_missing_root_and_foreign_val_classes_are_one_line_errors(tmp_path: Path, image_root: Path):
    with pytest.raises(ConfigError, match=r"^data\.root: .*nowhere/train is not a folder"):
        ImageFolderDataModule(root=tmp_path / "nowhere")
    write_image_folder(image_root, "val", {"dog": 1}, size=(8, 8))
    datamodule = ImageFolderDataModule(root=image_root, val_fraction=0.2)
    with pytest.raises(ConfigError, match=r"^data\.root: .*val has classes not in train/: dog"):
        datamodule.setup("fit")
    with pytest.raises(ConfigError, match=r"^data\.resize_size: 100 is too small; valid: >= 224"):
        ImageFolderDataModule(root=image_root, resize_size=100)


def test_known_class_count_defers_listing_the_folders_to_setup(tmp_path: Path, image_root: Path):
    head_node = ImageFolderDataModule(root=tmp_path / "not-mounted-here", num_classes=1000)
    assert (head_node.num_classes, head_node.classes) == (1000, [])
    datamodule = ImageFolderDataModule(root=image_root, num_classes=3, val_fraction=0.2)
    datamodule.setup("fit")
    assert datamodule.classes == ["ant", "bee", "cat"] and len(datamodule.samples["test"][0]) == 8
    wrong = ImageFolderDataModule(root=image_root, num_classes=4)
    with pytest.raises(ConfigError, match=r"^data\.num_classes: 4 given, but .*train has 3 class folders"):
        wrong.setup("fit")


def test_random_resized_crop_respects_area_and_aspect_ranges():
    torch.manual_seed(0)
    for _ in range(500):
        left, top, right, bottom = random_resized_crop_box(200, 120, (0.08, 1.0), (3 / 4, 4 / 3))
        width, height = right - left, bottom - top
        assert 0 <= left < right <= 200 and 0 <= top < bottom <= 120
        if (width, height) != (160, 120):  # not the fallback
            assert 0.08 * 24000 * 0.9 <= width * height <= 24000
            assert 3 / 4 - 0.05 <= width / height <= 4 / 3 + 0.05


def test_random_resized_crop_falls_back_to_a_centred_clamped_crop_for_extreme_images():
    torch.manual_seed(0)
    assert random_resized_crop_box(1000, 10, (0.99, 1.0), (3 / 4, 4 / 3)) == (493, 0, 506, 10)


def test_eval_transform_resizes_shorter_side_then_centre_crops():
    assert shorter_side_size(300, 200, 100) == (150, 100) and shorter_side_size(50, 400, 100) == (100, 800)
    pixels = np.zeros((40, 80, 3), dtype=np.uint8)
    pixels[:, 40:] = 255  # right half white: the centre crop straddles the boundary
    tensor = EvalImageTransform(resize=20, size=20)(Image.fromarray(pixels))
    assert tensor.shape == (3, 20, 20)
    unit = tensor * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    assert torch.allclose(unit[:, :, :8], torch.zeros(3, 20, 8), atol=1e-3)
    assert torch.allclose(unit[:, :, 12:], torch.ones(3, 20, 8), atol=1e-3)


def test_train_transform_output_shape_and_flip_rate():
    pixels = np.zeros((32, 32, 3), dtype=np.uint8)
    pixels[:, :16] = 255  # left half white
    torch.manual_seed(0)
    transform = TrainImageTransform(16, scale=(1.0, 1.0), ratio=(1.0, 1.0))  # the whole image, only flips vary
    outputs = [transform(Image.fromarray(pixels)) for _ in range(200)]
    assert all(output.shape == (3, 16, 16) for output in outputs)
    flipped = np.mean([output[0, 0, 0] < output[0, 0, -1] for output in outputs])
    assert math.isclose(flipped, 0.5, abs_tol=0.1)
