"""Digits and cluttered digits: shapes, split sizes, disjoint sources, reproducibility and difficulty."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnlab.datamodules import ClutteredDigitsDataModule, DigitsDataModule
from attnlab.datamodules.cluttered import Clutter, cluttered_splits, render_canvases
from attnlab.datamodules.splits import Splits
from attnlab.errors import ConfigError

SMALL = {"num_train": 400, "num_val": 100, "num_test": 100}


def _assert_disjoint(splits: Splits) -> None:
    """No source digit and no identical image in two splits."""
    ids = [set(split.ids.tolist()) for split in (splits.train, splits.val, splits.test)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    prints = [{image.numpy().tobytes() for image in split.images} for split in (splits.train, splits.val, splits.test)]
    assert not prints[0] & prints[1] and not prints[0] & prints[2] and not prints[1] & prints[2]


def _nearest_mean_accuracy(splits: Splits) -> float:
    """Test accuracy of classifying by the nearest training class-mean image: high only if WHERE is fixed."""
    train = splits.train.images.flatten(1).double()
    means = torch.stack([train[splits.train.labels == label].mean(0) for label in range(10)])
    predicted = torch.cdist(splits.test.images.flatten(1).double(), means).argmin(1)
    return (predicted == splits.test.labels).double().mean().item()


@pytest.mark.parametrize("in_memory", [True, False])
def test_digits_shapes_labels_and_split_sizes(in_memory: bool):
    datamodule = DigitsDataModule(batch_size=100, scale=2, augment=False, in_memory=in_memory)
    assert (datamodule.num_classes, datamodule.in_channels, datamodule.image_size) == (10, 1, 16)
    datamodule.setup("fit")
    splits = datamodule.splits
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1295, 143, 359)
    images, labels = next(iter(datamodule.train_dataloader()))
    assert images.shape[1:] == (1, 16, 16) and images.dtype == torch.float32 and labels.dtype == torch.int64
    test_labels = torch.cat([labels for _, labels in datamodule.test_dataloader()])
    counts = test_labels.bincount()
    assert len(counts) == 10 and counts.max() - counts.min() <= 2  # stratified: 20 % of each class
    train_images = torch.cat([images for images, _ in datamodule.train_dataloader()])
    assert abs(train_images.mean().item()) < 1e-4 and abs(train_images.std().item() - 1) < 1e-3  # train statistics


def test_digits_splits_share_no_digit_and_follow_the_seed():
    first, again, other = DigitsDataModule(scale=1), DigitsDataModule(scale=1), DigitsDataModule(scale=1, seed=1)
    for datamodule in (first, again, other):
        datamodule.setup("fit")
    assert first.image_size == 8 and first.splits.train.images.shape[1:] == (1, 8, 8)
    _assert_disjoint(first.splits)
    assert torch.equal(first.splits.test.ids, again.splits.test.ids)
    assert not torch.equal(first.splits.test.ids, other.splits.test.ids)


def test_cluttered_shapes_labels_and_split_sizes():
    datamodule = ClutteredDigitsDataModule(batch_size=64, canvas_size=40, **SMALL)
    assert (datamodule.num_classes, datamodule.in_channels, datamodule.image_size) == (10, 1, 40)
    datamodule.setup("fit")
    assert [len(datamodule.splits.by_name(name)) for name in ("train", "val", "test")] == [400, 100, 100]
    for loader, count in ((datamodule.train_dataloader(), 400), (datamodule.val_dataloader(), 100)):
        batches = list(loader)
        assert sum(len(labels) for _, labels in batches) == count
        images, labels = batches[0]
        assert images.shape[1:] == (1, 40, 40) and images.dtype == torch.float32 and labels.dtype == torch.int64
        assert labels.min() >= 0 and labels.max() <= 9


def test_cluttered_splits_draw_from_disjoint_source_digits():
    datamodule = ClutteredDigitsDataModule(**SMALL)
    datamodule.setup("fit")
    _assert_disjoint(datamodule.splits)


def test_canvases_hold_the_shown_digit_whole_and_clutter_only_from_the_given_pool():
    pool = np.stack([np.full((4, 4), (index + 1) / 10, dtype=np.float32) for index in range(3)])
    canvases, shown, boxes = render_canvases(pool, 50, Clutter(12, 1, 0, 2, 0.0), np.random.default_rng(0))
    for canvas, index, (x0, y0, x1, y1) in zip(canvases, shown, boxes, strict=True):
        assert np.count_nonzero(canvas == pool[index, 0, 0]) == 16 and np.count_nonzero(canvas) == 16
        assert (x1 - x0, y1 - y0) == (4, 4) and np.all(
            canvas[y0:y1, x0:x1] == pool[index, 0, 0]
        )  # the box is the digit
    cluttered, _, _ = render_canvases(pool, 50, Clutter(12, 1, 6, 2, 0.0), np.random.default_rng(0))
    assert np.isclose(np.unique(cluttered)[:, None], [0.0, 0.1, 0.2, 0.3]).any(axis=1).all()
    assert (np.count_nonzero(cluttered, axis=(1, 2)) > 16).mean() > 0.9  # fragments around the digit


def test_cluttered_generation_is_reproducible_from_the_seed_not_the_cache():
    clutter = Clutter(32, 2, 8, 8, 0.1)
    first = cluttered_splits(clutter, (200, 50, 50), 0.1, 0.2, 0)
    cluttered_splits.cache_clear()
    again = cluttered_splits(clutter, (200, 50, 50), 0.1, 0.2, 0)
    other = cluttered_splits(clutter, (200, 50, 50), 0.1, 0.2, 1)
    assert first is not again and torch.equal(first.train.images, again.train.images)
    assert torch.equal(first.test.labels, again.test.labels)
    assert not torch.equal(first.train.images, other.train.images)


def test_default_cluttered_set_defeats_template_matching():
    cluttered_splits.cache_clear()
    datamodule = ClutteredDigitsDataModule()
    datamodule.setup("fit")
    assert [len(datamodule.splits.by_name(name)) for name in ("train", "val", "test")] == [10000, 2000, 2000]
    plain = DigitsDataModule(scale=1)
    plain.setup("fit")
    assert _nearest_mean_accuracy(plain.splits) > 0.85
    assert _nearest_mean_accuracy(datamodule.splits) < 0.35


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"fragment_size": 17}, r"^data\.fragment_size: 17 is larger than a digit; valid: 1\.\.16$"),
        ({"canvas_size": 12}, r"^data\.canvas_size: 12 is too small; valid: >= 16$"),
        ({"noise": -0.5}, r"^data\.noise: -0\.5 is too small; valid: >= 0\.0$"),
        ({"test_fraction": 1.0}, r"^data\.test_fraction: 1\.0 is not a fraction; valid: 0 < test_fraction < 1$"),
        ({"num_train": 0}, r"^data\.num_train: 0 is too small; valid: >= 1$"),
    ],
)
def test_bad_cluttered_arguments_fail_in_init(arguments: dict, message: str):
    with pytest.raises(ConfigError, match=message):
        ClutteredDigitsDataModule(**arguments)


def test_digits_scale_must_be_positive():
    with pytest.raises(ConfigError, match=r"^data\.scale: 0 is too small; valid: >= 1$"):
        DigitsDataModule(scale=0)
