"""Per-image ImageNet transforms on PIL images: random-resized crop + flip for training, resize + centre crop
for evaluation, then a normalised float tensor.

Random draws use torch's global generator, which the ``DataLoader`` seeds differently in every worker
(numpy's would repeat across forked workers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from attnlab.datamodules.batch_transforms import normalise

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Box = tuple[int, int, int, int]  # left, top, right, bottom


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * torch.rand(()).item()


def _integer_below(bound: int) -> int:
    return int(torch.randint(0, bound, ()).item())


def random_resized_crop_box(width: int, height: int, scale: tuple[float, float], ratio: tuple[float, float]) -> Box:
    """The standard Inception-style crop: area share in ``scale``, aspect (w/h) log-uniform in ``ratio``.

    Up to 10 draws that fit the image; otherwise the largest centred crop with the aspect clamped to ``ratio``.
    """
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * _uniform(*scale)
        aspect = math.exp(_uniform(*log_ratio))
        crop_w = round(math.sqrt(target_area * aspect))
        crop_h = round(math.sqrt(target_area / aspect))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            left = _integer_below(width - crop_w + 1)
            top = _integer_below(height - crop_h + 1)
            return left, top, left + crop_w, top + crop_h
    image_ratio = width / height
    if image_ratio < ratio[0]:
        crop_w, crop_h = width, round(width / ratio[0])
    elif image_ratio > ratio[1]:
        crop_w, crop_h = round(height * ratio[1]), height
    else:
        crop_w, crop_h = width, height
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    return left, top, left + crop_w, top + crop_h


def center_box(width: int, height: int, size: int) -> Box:
    """The centred size×size window (the image must be at least that large)."""
    left, top = (width - size) // 2, (height - size) // 2
    return left, top, left + size, top + size


def shorter_side_size(width: int, height: int, shorter: int) -> tuple[int, int]:
    """(width, height) scaled so the shorter side becomes ``shorter``, keeping the aspect ratio."""
    if width <= height:
        return shorter, max(1, round(height * shorter / width))
    return max(1, round(width * shorter / height)), shorter


def to_normalised_tensor(image: Image.Image, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """RGB PIL image -> float32 C×H×W, in unit range, then normalised per channel."""
    pixels = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)
    return normalise(pixels.float().div_(255.0)[None], mean, std)[0]


@dataclass(frozen=True)
class TrainImageTransform:
    """Random-resized crop to ``size`` (bilinear), horizontal flip with probability 1/2, normalise."""

    size: int
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    def __call__(self, image: Image.Image) -> torch.Tensor:
        box = random_resized_crop_box(image.width, image.height, self.scale, self.ratio)
        crop = image.resize((self.size, self.size), Image.Resampling.BILINEAR, box=box)
        if torch.rand(()).item() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return to_normalised_tensor(crop, self.mean, self.std)


@dataclass(frozen=True)
class EvalImageTransform:
    """Resize the shorter side to ``resize`` (bilinear), centre crop ``size``, normalise."""

    resize: int
    size: int
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    def crop(self, image: Image.Image) -> Image.Image:
        """The resized, centre-cropped image (what the model sees, before normalising)."""
        resized = image.resize(shorter_side_size(image.width, image.height, self.resize), Image.Resampling.BILINEAR)
        return resized.crop(center_box(resized.width, resized.height, self.size))

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return to_normalised_tensor(self.crop(image), self.mean, self.std)

    def map_box(self, box: Box, width: int, height: int) -> Box | None:
        """``box`` of a width×height image in the cropped image's pixels, clipped to it; None if cropped away."""
        resized_w, resized_h = shorter_side_size(width, height, self.resize)
        left, top, _, _ = center_box(resized_w, resized_h, self.size)
        scale_x, scale_y = resized_w / width, resized_h / height
        x0, y0, x1, y1 = box
        mapped = (
            min(self.size, max(0, round(x0 * scale_x) - left)),
            min(self.size, max(0, round(y0 * scale_y) - top)),
            min(self.size, max(0, round(x1 * scale_x) - left)),
            min(self.size, max(0, round(y1 * scale_y) - top)),
        )
        return mapped if mapped[2] > mapped[0] and mapped[3] > mapped[1] else None
