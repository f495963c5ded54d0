"""CIFAR-10 and CIFAR-100 from the official "python version" batch files, with an optional verified download.

The files are pickled dicts (``b"data"``: uint8 N×3072, channel-major 32×32 planes; ``b"labels"`` or
``b"fine_labels"``). Pickle is the official format, and a plain unpickler runs whatever a crafted file
names, so the files are read by :class:`BatchUnpickler`, which admits only what the real files hold.
"""

from __future__ import annotations

import codecs
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from attnlab.datamodules.base import Statistics, TensorDataModule
from attnlab.datamodules.checks import require_fraction
from attnlab.datamodules.download import extract, fetch
from attnlab.datamodules.splits import Split, Splits, stratified_holdout
from attnlab.errors import ConfigError

OFFICIAL_MIRROR = "https://www.cs.toronto.edu/~kriz/"
CIFAR_SIDE = 32


@dataclass(frozen=True)
class CifarLayout:
    """Where one CIFAR variant's files are and how they are keyed, plus its usual normalisation."""

    archive: str
    md5: str
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: bytes
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


CIFAR10 = CifarLayout(
    archive="cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    folder="cifar-10-batches-py",
    train_files=tuple(f"data_batch_{index}" for index in range(1, 6)),
    test_files=("test_batch",),
    label_key=b"labels",
    num_classes=10,
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
)

CIFAR100 = CifarLayout(
    archive="cifar-100-python.tar.gz",
    md5="eb9058c3a382ffc7106e4002c42a8d85",
    folder="cifar-100-python",
    train_files=("train",),
    test_files=("test",),
    label_key=b"fine_labels",
    num_classes=100,
    mean=(0.5071, 0.4865, 0.4409),
    std=(0.2673, 0.2564, 0.2762),
)


NUMPY_RECONSTRUCT = np.zeros(0).__reduce__()[0]  # what an array's pickle calls, wherever this numpy keeps it


class RefusedGlobalError(pickle.UnpicklingError):
    """A pickle names something other than what CIFAR files hold: the module.name it asked for."""


class BatchUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, str, numbers and numpy arrays only; any other global is refused.

    A numpy array pickles as ``_reconstruct`` + ``ndarray`` + ``dtype`` (module ``numpy.core.multiarray``
    before numpy 2, ``numpy._core.multiarray`` since); Python 3 writes protocol-2 bytes via ``_codecs.encode``.
    """

    ALLOWED: ClassVar[dict[tuple[str, str], object]] = {
        ("numpy.core.multiarray", "_reconstruct"): NUMPY_RECONSTRUCT,
        ("numpy._core.multiarray", "_reconstruct"): NUMPY_RECONSTRUCT,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise RefusedGlobalError(f"{module}.{name}")
        return self.ALLOWED[module, name]


def read_batch_file(path: Path, layout: CifarLayout) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 3, 32, 32) and labels int64 (N,) of one batch file, checked against the format."""
    expected = f"a pickled dict with b'data' uint8 N×3072 and {layout.label_key!r} labels 0..{layout.num_classes - 1}"
    try:
        with path.open("rb") as stream:
            content = BatchUnpickler(stream, encoding="bytes").load()
        data = content[b"data"]
        labels = np.asarray(content[layout.label_key], dtype=np.int64)
    except RefusedGlobalError as error:
        raise ConfigError(
            f"data.data_dir: {path} is not a CIFAR batch file: its pickle would call {error}, which was refused "
            "(CIFAR files hold only dicts, lists, bytes, str and numpy arrays); replace it with the official file"
        ) from None
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError, ImportError) as error:
        raise ConfigError(f"data.data_dir: {path} is not a CIFAR batch file ({error!r}); expected {expected}") from None
    well_formed = (
        isinstance(data, np.ndarray)
        and data.dtype == np.uint8
        and data.ndim == 2
        and data.shape[1] == 3 * CIFAR_SIDE * CIFAR_SIDE
        and labels.shape == (data.shape[0],)
        and (len(labels) == 0 or (labels.min() >= 0 and labels.max() < layout.num_classes))
    )
    if not well_formed:
        raise ConfigError(f"data.data_dir: {path} is not a CIFAR batch file; expected {expected}")
    return data.reshape(-1, 3, CIFAR_SIDE, CIFAR_SIDE), labels


def read_files(folder: Path, names: tuple[str, ...], layout: CifarLayout) -> tuple[np.ndarray, np.ndarray]:
    """The concatenated images and labels of several batch files, in file order."""
    parts = [read_batch_file(folder / name, layout) for name in names]
    return np.concatenate([images for images, _ in parts]), np.concatenate([labels for _, labels in parts])


class CIFARDataModule(TensorDataModule):
    """CIFAR-style 32×32 RGB data read from ``data_dir``; the concrete variants set ``LAYOUT``.

    Test is the official test set; validation is carved (stratified, seeded) from the official
    training set. Training batches get the standard augmentation: random crop 32 with zero padding 4 and
    horizontal flip. Normalisation uses the dataset's usual per-channel mean and std.

    The constructor's arguments are documented on ``__init__``, so the variants inherit them.
    """

    LAYOUT: ClassVar[CifarLayout]

    def __init__(
        self,
        data_dir: Path = Path("data"),
        download: bool = False,
        mirror: str = OFFICIAL_MIRROR,
        archive_md5: str | None = None,
        batch_size: int = 128,
        val_fraction: float = 0.1,
        augment: bool = True,
        in_memory: bool = True,
        num_workers: int = 2,
        seed: int = 0,
    ) -> None:
        """Configure the dataset (nothing is read here).

        Args:
            data_dir: folder that holds (or will hold, with ``download``) the extracted dataset folder.
            download: fetch the official archive from ``mirror`` when the files are missing, verify its MD5
                and extract it into ``data_dir``.
            mirror: base URL the archive is fetched from (its file name is appended).
            archive_md5: expected MD5 of the archive; ``None`` means the official archive's checksum.
            batch_size: samples per batch (per process under DDP).
            val_fraction: share of each class of the official training set held out as validation.
            augment: random crop and horizontal flip on training batches.
            in_memory: keep the splits on the training device and augment there (no workers).
            num_workers: ``DataLoader`` worker processes when ``in_memory`` is false.
            seed: seed of the validation split; shuffling and augmentation follow ``seed_everything`` instead.
        """
        require_fraction("val_fraction", val_fraction)
        if not mirror.startswith(("http://", "https://", "file://")):
            raise ConfigError(f"data.mirror: {mirror!r} is not a URL; valid: an http://, https:// or file:// base URL")
        if archive_md5 is not None and not re.fullmatch(r"[0-9a-fA-F]{32}", archive_md5):
            raise ConfigError(f"data.archive_md5: {archive_md5!r} is not an MD5; valid: 32 hex digits or null")
        super().__init__(
            num_classes=self.LAYOUT.num_classes,
            in_channels=3,
            image_size=CIFAR_SIDE,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
            in_memory=in_memory,
            augment=augment,
            crop_padding=4,
            flip=True,
        )
        self.save_hyperparameters()
        self.data_dir = Path(data_dir)
        self.download = download
        self.mirror = mirror
        self.archive_md5 = (archive_md5 or self.LAYOUT.md5).lower()
        self.val_fraction = val_fraction

    @property
    def folder(self) -> Path:
        """The extracted dataset folder, as laid out by the official archive."""
        return self.data_dir / self.LAYOUT.folder

    def _missing_files(self) -> list[str]:
        return [name for name in self.LAYOUT.train_files + self.LAYOUT.test_files if not (self.folder / name).is_file()]

    def prepare_data(self) -> None:
        """Download and extract once per machine (Lightning calls this on one process only)."""
        if self.download and self._missing_files():
            archive = self.data_dir / self.LAYOUT.archive
            fetch(self.mirror.rstrip("/") + "/" + self.LAYOUT.archive, archive, self.archive_md5)
            extract(archive, self.data_dir)

    def load_splits(self) -> Splits:
        missing = self._missing_files()
        if missing:
            raise ConfigError(
                f"data.data_dir: {self.folder} lacks {', '.join(missing)}; "
                f"valid: a folder with the extracted {self.LAYOUT.archive}, or set data.download=true"
            )
        train_images, train_labels = read_files(self.folder, self.LAYOUT.train_files, self.LAYOUT)
        test_images, test_labels = read_files(self.folder, self.LAYOUT.test_files, self.LAYOUT)
        kept, held = stratified_holdout(train_labels, self.val_fraction, self.seed, "val_fraction")

        def split(images: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> Split:
            return Split(torch.from_numpy(images[ids]), torch.from_numpy(labels[ids]), torch.from_numpy(ids))

        return Splits(
            train=split(train_images, train_labels, kept),
            val=split(train_images, train_labels, held),
            test=split(test_images, test_labels, np.arange(len(test_labels), dtype=np.int64)),
        )

    def normalisation(self, train: Split) -> Statistics:
        return self.LAYOUT.mean, self.LAYOUT.std


class CIFAR10DataModule(CIFARDataModule):
    """CIFAR-10: 50 000 training and 10 000 test 32×32 RGB images in 10 classes (``cifar-10-batches-py``)."""

    LAYOUT = CIFAR10


class CIFAR100DataModule(CIFARDataModule):
    """CIFAR-100: 50 000 training and 10 000 test 32×32 RGB images in 100 fine classes (``cifar-100-python``)."""

    LAYOUT = CIFAR100
