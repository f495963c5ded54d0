"""CIFAR-10/100: reading the official python batch files, verified download from a local server, errors."""

from __future__ import annotations

import pickle
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures_data import serve_directory, write_cifar_archive, write_cifar_folder

from attnlab.datamodules import CIFAR10DataModule, CIFAR100DataModule
from attnlab.datamodules.cifar import CIFAR10, CIFAR100
from attnlab.errors import ConfigError


def _all(loader) -> tuple[torch.Tensor, torch.Tensor]:
    batches = list(loader)
    return torch.cat([images for images, _ in batches]), torch.cat([labels for _, labels in batches])


@pytest.mark.parametrize("in_memory", [True, False])
def test_cifar10_reads_the_official_batch_files(tmp_path: Path, in_memory: bool):
    folder = write_cifar_folder(tmp_path, CIFAR10, per_train_file=20, test_count=30)
    datamodule = CIFAR10DataModule(
        data_dir=tmp_path, batch_size=16, val_fraction=0.2, in_memory=in_memory, num_workers=0
    )
    assert (datamodule.num_classes, datamodule.in_channels, datamodule.image_size) == (10, 3, 32)
    datamodule.setup("fit")
    splits = datamodule.splits
    assert len(splits.train) + len(splits.val) == 100 and len(splits.test) == 30
    assert 14 <= len(splits.val) <= 26  # 20 % of each class, rounded per class

    train_images, train_labels = _all(datamodule.train_dataloader())
    assert train_images.shape == (len(splits.train), 3, 32, 32) and train_images.dtype == torch.float32
    assert train_labels.dtype == torch.int64 and train_labels.min() >= 0 and train_labels.max() < 10

    test_images, test_labels = _all(datamodule.test_dataloader())
    with (folder / "test_batch").open("rb") as stream:
        official = pickle.load(stream, encoding="bytes")
    first = torch.from_numpy(official[b"data"][0].reshape(3, 32, 32)).float() / 255  # R, G, B planes of 32 rows
    mean, std = torch.tensor(CIFAR10.mean).view(3, 1, 1), torch.tensor(CIFAR10.std).view(3, 1, 1)
    assert torch.allclose(test_images[0], (first - mean) / std, atol=1e-5)
    assert test_labels.tolist() == official[b"labels"]


def test_cifar100_uses_fine_labels_and_100_classes(tmp_path: Path):
    write_cifar_folder(tmp_path, CIFAR100, per_train_file=300, test_count=50)
    datamodule = CIFAR100DataModule(data_dir=tmp_path, batch_size=64, val_fraction=0.1)
    assert datamodule.num_classes == 100
    datamodule.setup("fit")
    assert len(datamodule.splits.train) + len(datamodule.splits.val) == 300 and len(datamodule.splits.test) == 50
    _, labels = _all(datamodule.train_dataloader())
    assert labels.max() >= 20  # fine labels, not the 20 coarse ones
    images, _ = _all(datamodule.val_dataloader())
    assert images.shape[1:] == (3, 32, 32)


def test_no_image_is_shared_between_train_val_and_test(tmp_path: Path):
    write_cifar_folder(tmp_path, CIFAR10, per_train_file=40, test_count=40)
    datamodule = CIFAR10DataModule(data_dir=tmp_path, val_fraction=0.25)
    datamodule.setup("fit")
    splits = datamodule.splits
    assert not set(splits.train.ids.tolist()) & set(splits.val.ids.tolist())
    fingerprints = [
        {image.numpy().tobytes() for image in split.images} for split in (splits.train, splits.val, splits.test)
    ]
    assert sum(len(prints) for prints in fingerprints) == len(set().union(*fingerprints)) == 240


def test_missing_files_name_the_folder_and_suggest_download(tmp_path: Path):
    datamodule = CIFAR10DataModule(data_dir=tmp_path)
    with pytest.raises(
        ConfigError, match=r"^data\.data_dir: .*cifar-10-batches-py lacks data_batch_1, .*download=true"
    ):
        datamodule.setup("fit")


@pytest.mark.parametrize(
    "content",
    [b"not a pickle at all", pickle.dumps({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]})],
    ids=["garbage", "float-data"],
)
def test_corrupt_batch_file_is_a_one_line_error(tmp_path: Path, content: bytes):
    folder = write_cifar_folder(tmp_path, CIFAR10, per_train_file=4, test_count=4)
    (folder / "data_batch_3").write_bytes(content)
    with pytest.raises(ConfigError, match=r"^data\.data_dir: .*data_batch_3 is not a CIFAR batch file") as error:
        CIFAR10DataModule(data_dir=tmp_path).setup("fit")
    assert "\n" not in str(error.value)


def test_download_fetches_verifies_and_extracts_the_archive(tmp_path: Path):
    served = tmp_path / "served"
    served.mkdir()
    md5 = write_cifar_archive(served, CIFAR10, per_train_file=10, test_count=10)
    data_dir = tmp_path / "data"
    with serve_directory(served) as mirror:
        datamodule = CIFAR10DataModule(data_dir=data_dir, download=True, mirror=mirror, archive_md5=md5, batch_size=8)
        datamodule.prepare_data()
    datamodule.setup("fit")
    assert len(datamodule.splits.train) + len(datamodule.splits.val) == 50 and len(datamodule.splits.test) == 10
    assert (data_dir / CIFAR10.archive).is_file() and not list(data_dir.glob("*.part"))


def test_download_rejects_a_corrupted_archive_and_keeps_nothing(tmp_path: Path):
    served = tmp_path / "served"
    served.mkdir()
    md5 = write_cifar_archive(served, CIFAR100, per_train_file=10, test_count=10)
    archive = served / CIFAR100.archive
    corrupted = bytearray(archive.read_bytes())
    corrupted[len(corrupted) // 2] ^= 0xFF
    archive.write_bytes(bytes(corrupted))
    data_dir = tmp_path / "data"
    with serve_directory(served) as mirror:
        datamodule = CIFAR100DataModule(data_dir=data_dir, download=True, mirror=mirror, archive_md5=md5)
        with pytest.raises(
            ConfigError, match=rf"^data\.mirror: .*cifar-100-python\.tar\.gz has MD5 \w+, expected {md5}"
        ):
            datamodule.prepare_data()
    assert list(data_dir.iterdir()) == []


def test_unreachable_mirror_and_malformed_arguments_are_one_line_errors(tmp_path: Path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    datamodule = CIFAR10DataModule(data_dir=tmp_path, download=True, mirror=f"http://127.0.0.1:{port}/")
    with pytest.raises(ConfigError, match=r"^data\.mirror: cannot download http://127\.0\.0\.1:\d+/cifar-10-python"):
        datamodule.prepare_data()
    with pytest.raises(ConfigError, match=r"^data\.mirror: 'ftp://example\.org' is not a URL"):
        CIFAR10DataModule(mirror="ftp://example.org")
    with pytest.raises(ConfigError, match=r"^data\.archive_md5: 'abc' is not an MD5; valid: 32 hex digits"):
        CIFAR10DataModule(archive_md5="abc")


def test_official_checksums_are_the_default():
    assert CIFAR10DataModule().archive_md5 == "c58f30108f718f92721af3b95e74349a"
    assert CIFAR100DataModule().archive_md5 == "eb9058c3a382ffc7106e4002c42a8d85"
