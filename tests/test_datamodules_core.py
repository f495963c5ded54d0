"""The shared machinery of the datamodules: sharding, batch transforms, splits, the device loader, arguments."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from jsonargparse import ArgumentParser
from lightning.pytorch import LightningDataModule

import attnlab.datamodules as datamodules
from attnlab.datamodules.base import channel_statistics
from attnlab.datamodules.batch_transforms import BatchTransform, normalise, random_crop, random_horizontal_flip
from attnlab.datamodules.device_loader import DeviceBatchLoader
from attnlab.datamodules.sharding import batches_per_rank, require_shardable, shard_batches
from attnlab.datamodules.splits import Split, stratified_holdout
from attnlab.datamodules.synthetic import SyntheticDataModule
from attnlab.errors import ConfigError


@pytest.mark.parametrize(
    ("num_samples", "world_size", "batch_size"), [(101, 2, 8), (100, 2, 10), (7, 3, 2), (5, 1, 64)]
)
def test_shards_cover_every_sample_once_with_equal_batch_counts(num_samples: int, world_size: int, batch_size: int):
    order = torch.randperm(num_samples, generator=torch.Generator().manual_seed(0))
    per_rank = [shard_batches(order, rank, world_size, batch_size) for rank in range(world_size)]
    seen = torch.cat([batch for batches in per_rank for batch in batches])
    assert sorted(seen.tolist()) == list(range(num_samples))
    expected = batches_per_rank(num_samples, world_size, batch_size)
    assert [len(batches) for batches in per_rank] == [expected] * world_size
    sizes = [len(batch) for batches in per_rank for batch in batches]
    assert max(sizes) <= batch_size and min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


def test_batch_size_one_with_uneven_shards_is_rejected_before_training():
    require_shardable(100, 2, 1)  # even shards: fine
    with pytest.raises(ConfigError, match=r"^data\.batch_size: 1 cannot spread 101 samples over 2 ranks"):
        require_shardable(101, 2, 1)


def test_random_crop_shifts_content_within_padding_and_keeps_shape():
    images = torch.zeros(64, 1, 8, 8)
    images[:, 0, 4, 4] = 1.0  # one bright pixel per image
    cropped = random_crop(images, 2, torch.Generator().manual_seed(0))
    assert cropped.shape == images.shape
    positions = [divmod(int(image.argmax()), 8) for image in cropped[:, 0]]
    assert all(2 <= row <= 6 and 2 <= col <= 6 for row, col in positions)
    assert len(set(positions)) > 10  # offsets differ per sample
    assert cropped.sum() == 64  # the pixel never leaves the window at padding 2


def test_flip_mirrors_about_half_the_batch():
    images = torch.arange(4.0).repeat(400, 1, 1, 1)  # rows 0 1 2 3
    flipped = random_horizontal_flip(images, torch.Generator().manual_seed(0))
    mirrored = (flipped[:, 0, 0, 0] == 3).float().mean().item()
    assert 0.4 < mirrored < 0.6
    assert torch.equal(flipped.sort(dim=-1).values, images)


def test_batch_transform_normalises_uint8_and_drops_augmentation_for_evaluation():
    images = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    transform = BatchTransform(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), crop_padding=1, flip=True)
    evaluated = transform.deterministic()(images)
    assert evaluated.dtype == torch.float32 and torch.allclose(evaluated, torch.full_like(evaluated, 2.0))
    assert evaluated.shape == images.shape
    assert not transform.deterministic().flip and transform.deterministic().crop_padding == 0
    assert torch.allclose(normalise(torch.ones(1, 2, 1, 1), (0.0, 1.0), (2.0, 1.0)).flatten(), torch.tensor([0.5, 0.0]))


def test_stratified_holdout_is_disjoint_seeded_and_keeps_class_shares():
    labels = np.repeat(np.arange(4), 50)
    kept, held = stratified_holdout(labels, 0.2, seed=3, field="val_fraction")
    assert len(np.intersect1d(kept, held)) == 0 and len(kept) + len(held) == 200
    assert np.bincount(labels[held]).tolist() == [10, 10, 10, 10]
    assert np.array_equal(held, stratified_holdout(labels, 0.2, seed=3, field="val_fraction")[1])
    assert not np.array_equal(held, stratified_holdout(labels, 0.2, seed=4, field="val_fraction")[1])
    with pytest.raises(ConfigError, match=r"^data\.val_fraction: 0\.001 of 200 samples leaves a split empty"):
        stratified_holdout(labels, 0.001, seed=0, field="val_fraction")


def test_channel_statistics_match_direct_computation_across_chunks():
    images = torch.randint(0, 256, (10, 3, 5, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    mean, std = channel_statistics(images, elements_per_chunk=80)  # 1 image per chunk
    unit = images.double() / 255
    assert np.allclose(mean, unit.mean(dim=(0, 2, 3)).numpy())
    assert np.allclose(std, unit.std(dim=(0, 2, 3), unbiased=False).numpy())


def _identified_split(count: int) -> Split:
    return Split(torch.zeros(count, 1, 4, 4), torch.arange(count), torch.arange(count))


def test_device_loader_reshuffles_per_epoch_reproducibly():
    epoch = [0]
    loader = DeviceBatchLoader(
        split=_identified_split(50),
        batch_size=8,
        transform=BatchTransform((0.0,), (1.0,)),
        shuffle=True,
        seed=1,
        rank=0,
        world_size=1,
        epoch_source=lambda: epoch[0],
    )
    first = torch.cat([labels for _, labels in loader])
    again = torch.cat([labels for _, labels in loader])
    epoch[0] = 1
    second = torch.cat([labels for _, labels in loader])
    assert len(loader) == 7 and sorted(first.tolist()) == list(range(50))
    assert torch.equal(first, again) and not torch.equal(first, second)
    assert sorted(second.tolist()) == list(range(50))


@pytest.mark.parametrize("in_memory", [True, False])
def test_synthetic_shapes_dtypes_labels_and_split_sizes(in_memory: bool):
    datamodule = SyntheticDataModule(
        num_classes=7,
        in_channels=2,
        image_size=12,
        num_samples=40,
        num_eval_samples=9,
        batch_size=16,
        in_memory=in_memory,
    )
    assert (datamodule.num_classes, datamodule.in_channels, datamodule.image_size) == (7, 2, 12)
    datamodule.setup("fit")
    train = list(datamodule.train_dataloader())
    assert [len(labels) for _, labels in train] in ([14, 13, 13], [16, 16, 8])  # in-memory: near-equal batches
    images, labels = train[0]
    assert images.shape[1:] == (2, 12, 12) and images.dtype == torch.float32 and labels.dtype == torch.int64
    assert sum(len(labels) for _, labels in datamodule.val_dataloader()) == 9
    assert sum(len(labels) for _, labels in datamodule.test_dataloader()) == 9
    all_labels = torch.cat([labels for _, labels in train])
    assert all_labels.min() >= 0 and all_labels.max() < 7
    assert abs(torch.cat([images for images, _ in train]).mean().item()) < 0.1  # normalised by train stats


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"batch_size": 0}, r"^data\.batch_size: 0 is too small; valid: >= 1$"),
        ({"num_workers": -1}, r"^data\.num_workers: -1 is too small; valid: >= 0$"),
        ({"image_size": 0}, r"^data\.image_size: 0 is too small; valid: >= 1$"),
    ],
)
def test_bad_arguments_fail_in_init_with_one_line_naming_the_field(arguments: dict, message: str):
    with pytest.raises(ConfigError, match=message):
        SyntheticDataModule(**arguments)


def test_splits_before_setup_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"setup\(\) must run"):
        _ = SyntheticDataModule().splits


def test_every_datamodule_parses_from_a_lightningcli_data_section(tmp_path):
    (tmp_path / "train" / "cat").mkdir(parents=True)
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(LightningDataModule, "data")
    for name in datamodules.__all__:
        init_args = {"batch_size": 32} | ({"root": str(tmp_path)} if name == "ImageFolderDataModule" else {})
        config = parser.parse_object({"data": {"class_path": f"attnlab.datamodules.{name}", "init_args": init_args}})
        built = parser.instantiate_classes(config).data
        assert type(built).__name__ == name and built.batch_size == 32
        assert all(isinstance(getattr(built, key), int) for key in ("num_classes", "in_channels", "image_size"))


def test_importing_the_package_loads_no_heavy_dependency():
    probe = (
        "import sys, attnlab.datamodules; print(sorted({'lightning', 'sklearn', 'PIL', 'torch'} & set(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
