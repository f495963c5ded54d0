"""One LightningDataModule per dataset; each sets ``num_classes``, ``in_channels`` and ``image_size`` in
``__init__`` without reading data, and yields ``(images float32 N×C×H×W normalised, labels int64 N)``.

Classes are imported on first access, so ``import attnlab.datamodules`` stays cheap (no Lightning,
scikit-learn or Pillow until a datamodule is used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attnlab.datamodules.cifar import CIFAR10DataModule, CIFAR100DataModule
    from attnlab.datamodules.cluttered import ClutteredDigitsDataModule
    from attnlab.datamodules.digits import DigitsDataModule
    from attnlab.datamodules.imagefolder import ImageFolderDataModule
    from attnlab.datamodules.synthetic import SyntheticDataModule

_MODULE_OF: dict[str, str] = {
    "DigitsDataModule": "attnlab.datamodules.digits",
    "ClutteredDigitsDataModule": "attnlab.datamodules.cluttered",
    "CIFAR10DataModule": "attnlab.datamodules.cifar",
    "CIFAR100DataModule": "attnlab.datamodules.cifar",
    "ImageFolderDataModule": "attnlab.datamodules.imagefolder",
    "SyntheticDataModule": "attnlab.datamodules.synthetic",
}

__all__ = [
    "CIFAR10DataModule",
    "CIFAR100DataModule",
    "ClutteredDigitsDataModule",
    "DigitsDataModule",
    "ImageFolderDataModule",
    "SyntheticDataModule",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
