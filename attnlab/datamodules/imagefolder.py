"""ImageNet-style folders of JPEG/PNG files, decoded with Pillow in ``DataLoader`` worker processes.

Layout: ``root/train/<class>/*.jpg|jpeg|png`` and ``root/val/<class>/...``. Classes are the sorted
folder names of ``train/`` (read in ``__init__``, a directory listing, so the model knows ``num_classes``);
the files themselves are listed in ``setup``. A file that Pillow cannot read stops the run with its name
when it is first loaded; ``skip_unreadable`` checks every header in ``setup`` and leaves such files out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from attnlab.datamodules.base import AttnlabDataModule
from attnlab.datamodules.box_files import read_boxes_csv
from attnlab.datamodules.checks import require_at_least, require_fraction
from attnlab.datamodules.image_transforms import EvalImageTransform, TrainImageTransform, to_normalised_tensor
from attnlab.datamodules.samples import Box, ShownSamples, check_split, seeded_indices
from attnlab.datamodules.splits import stratified_holdout
from attnlab.errors import ConfigError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})

Samples = tuple[list[Path], np.ndarray]


def class_folders(folder: Path) -> list[str]:
    """Sorted names of the class sub-folders of ``folder``."""
    if not folder.is_dir():
        raise ConfigError(f"data.root: {folder} is not a folder; valid: a root with train/<class>/ and val/<class>/")
    names = sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
    if not names:
        raise ConfigError(f"data.root: {folder} has no class folders; valid: one sub-folder of images per class")
    return names


def image_files(folder: Path, classes: list[str]) -> Samples:
    """Every JPEG/PNG file under ``folder/<class>/`` (sorted) and its class index.

    A sub-folder that is not one of ``classes`` is an error (its label would be undefined); a missing
    or empty class folder is not (a small val/ may lack some classes).
    """
    unknown = sorted(set(class_folders(folder)) - set(classes))
    if unknown:
        raise ConfigError(
            f"data.root: {folder} has classes not in train/: {', '.join(unknown[:5])}; valid: a subset of train/'s"
        )
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        found = sorted(path for path in (folder / name).glob("*") if path.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        labels += [label] * len(found)
    if not files:
        raise ConfigError(f"data.root: {folder} has no .jpg, .jpeg or .png files in its class folders")
    return files, np.asarray(labels, dtype=np.int64)


def readable_image(path: Path) -> bool:
    """Whether Pillow recognises the file as an image from its header (nothing is decoded)."""
    try:
        with Image.open(path):
            return True
    except OSError:  # UnidentifiedImageError included
        return False


def without_unreadable(samples: Samples) -> Samples:
    """The samples whose files are readable images; the others are named in a warning."""
    files, labels = samples
    readable = np.asarray([readable_image(path) for path in files], dtype=bool)
    left_out = [str(path) for path, ok in zip(files, readable, strict=True) if not ok]
    if left_out:
        shown = ", ".join(left_out[:3]) + (", ..." if len(left_out) > 3 else "")
        rank_zero_warn(f"data.skip_unreadable: left out {len(left_out)} files that are not readable images: {shown}")
    return [path for path, ok in zip(files, readable, strict=True) if ok], labels[readable]


class ImageFileDataset(Dataset):
    """Decodes one image file per item to RGB and applies ``transform``; the label comes from its folder."""

    def __init__(self, samples: Samples, transform: Callable[[Image.Image], torch.Tensor]) -> None:
        self.files, self.labels = samples
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path = self.files[index]
        try:
            with Image.open(path) as image:
                return self.transform(image.convert("RGB")), int(self.labels[index])
        except OSError as error:  # not an image, truncated, or gone
            raise ConfigError(
                f"data.root: {path} is not a readable image ({error}); valid: JPEG or PNG files; "
                "remove it, or set data.skip_unreadable=true to leave such files out with a warning"
            ) from None


class ImageFolderDataModule(AttnlabDataModule):
    """ImageNet-style image folders: training on ``train/`` minus a seeded validation carve-out, test on ``val/``.

    Training: random-resized crop to ``crop_size`` (area share ``min_scale``..1, aspect 3/4..4/3) and
    horizontal flip; validation and test: shorter side resized to ``resize_size``, centre crop ``crop_size``.
    Both normalise with the ImageNet mean and std. ``val/`` is the test split (what papers report on
    ImageNet), so model selection on the validation split never sees it.

    Args:
        root: folder with ``train/<class>/`` and ``val/<class>/`` sub-folders of JPEG/PNG files.
        batch_size: samples per batch (per process under DDP).
        crop_size: side of the square model input.
        resize_size: shorter side before the centre crop, for validation and test.
        min_scale: smallest area share of a training crop (0.08 is the standard; raise it for small images).
        val_fraction: share of each class of ``train/`` held out (seeded) as validation.
        num_workers: ``DataLoader`` processes decoding images.
        seed: seed of the validation split; shuffling and augmentation follow ``seed_everything`` instead.
        num_classes: the number of class folders, when known: the folders are then listed only in
            ``setup``, so a config can be validated on a machine without the data (a head node).
        skip_unreadable: check every file's header in ``setup`` (one open per file) and leave out, with a
            warning naming them, files Pillow cannot read; by default such a file stops the run when loaded.
        boxes_csv: optional CSV of object boxes (``file,x0,y0,x1,y1``, ``file`` relative to ``root``), read in
            ``setup``; ``attnlab explain`` then scores where each design looks.
    """

    def __init__(
        self,
        root: Path,
        batch_size: int = 256,
        crop_size: int = 224,
        resize_size: int = 256,
        min_scale: float = 0.08,
        val_fraction: float = 0.01,
        num_workers: int = 8,
        seed: int = 0,
        num_classes: int | None = None,
        skip_unreadable: bool = False,
        boxes_csv: Path | None = None,
    ) -> None:
        require_at_least("crop_size", crop_size, 1)
        if num_classes is not None:
            require_at_least("num_classes", num_classes, 1)
        require_at_least("resize_size", resize_size, crop_size)
        if not 0.0 < min_scale <= 1.0:
            raise ConfigError(f"data.min_scale: {min_scale} is not an area share; valid: 0 < min_scale <= 1")
        require_fraction("val_fraction", val_fraction)
        self.root = Path(root)
        self.classes = class_folders(self.root / "train") if num_classes is None else []
        super().__init__(
            num_classes=len(self.classes) if num_classes is None else num_classes,
            in_channels=3,
            image_size=crop_size,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
        )
        # The model's hparams hold the class count (linked from here); these would hold the unset value, and
        # Lightning refuses hparams that differ between model and datamodule.
        self.save_hyperparameters(ignore=["num_classes"])
        self.train_transform = TrainImageTransform(crop_size, scale=(min_scale, 1.0))
        self.eval_transform = EvalImageTransform(resize_size, crop_size)
        self.val_fraction = val_fraction
        self.skip_unreadable = skip_unreadable
        self.samples: dict[str, Samples] = {}
        self.boxes_csv = None if boxes_csv is None else Path(boxes_csv)
        self.boxes: dict[str, tuple[Box, ...]] | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.samples:
            return
        if not self.classes:
            self.classes = class_folders(self.root / "train")
            if len(self.classes) != self.num_classes:
                raise ConfigError(
                    f"data.num_classes: {self.num_classes} given, but {self.root / 'train'} has "
                    f"{len(self.classes)} class folders; give {len(self.classes)} or leave it unset"
                )
        train, test = image_files(self.root / "train", self.classes), image_files(self.root / "val", self.classes)
        if self.skip_unreadable:
            train, test = without_unreadable(train), without_unreadable(test)
        files, labels = train
        kept, held = stratified_holdout(labels, self.val_fraction, self.seed, "val_fraction")
        self.samples = {
            "train": ([files[i] for i in kept], labels[kept]),
            "val": ([files[i] for i in held], labels[held]),
            "test": test,
        }
        if self.boxes_csv is not None:
            self.boxes = read_boxes_csv(self.boxes_csv)

    def train_dataloader(self) -> DataLoader:
        return self.data_loader(ImageFileDataset(self.samples["train"], self.train_transform), shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self.data_loader(ImageFileDataset(self.samples["val"], self.eval_transform), shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self.data_loader(ImageFileDataset(self.samples["test"], self.eval_transform), shuffle=False)

    def shown_samples(self, name: str, count: int, seed: int) -> ShownSamples:
        """``count`` images of split ``name`` picked by ``seed``, as the test loader gives them, with the boxes
        of ``boxes_csv`` mapped into the crop (a file without a line has none)."""
        check_split(name)
        self.setup("test")
        files, labels = self.samples[name]
        indices = seeded_indices(len(files), count, seed)
        inputs, pictures, boxes = [], [], []
        for index in indices:
            with Image.open(files[index]) as image:
                rgb = image.convert("RGB")
            crop = self.eval_transform.crop(rgb)
            inputs.append(to_normalised_tensor(crop, self.eval_transform.mean, self.eval_transform.std))
            pictures.append(to_normalised_tensor(crop, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)))
            if self.boxes is not None:
                found = self.boxes.get(files[index].relative_to(self.root).as_posix(), ())
                mapped = (self.eval_transform.map_box(box, rgb.width, rgb.height) for box in found)
                boxes.append(tuple(box for box in mapped if box is not None))
        return ShownSamples(
            inputs=torch.stack(inputs),
            pictures=torch.stack(pictures),
            labels=torch.from_numpy(labels[indices]),
            indices=tuple(indices.tolist()),
            boxes=tuple(boxes) if self.boxes is not None else None,
        )
