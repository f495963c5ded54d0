"""Train / validation / test splits held as tensors, and the seeded stratified carving that makes them.

Every split keeps ``ids``: where each sample came from in its source collection. They make leakage
checkable (train, validation and test must not share a source) and errors traceable to a sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from attnlab.errors import ConfigError


@dataclass(frozen=True)
class Split:
    """One split: ``images`` N×C×H×W (uint8 in 0..255 or float32 in 0..1), ``labels`` int64 N, ``ids`` int64 N.

    ``boxes`` (int64 N×4: x0, y0, x1, y1 in pixels, ends exclusive) says where each image's object is, for
    datasets that know it; ``attnlab explain`` scores attribution maps against it.
    """

    images: torch.Tensor
    labels: torch.Tensor
    ids: torch.Tensor
    boxes: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device) -> Split:
        """The same split with its tensors on ``device`` (for batches drawn without a copy per step)."""
        boxes = None if self.boxes is None else self.boxes.to(device)
        return Split(self.images.to(device), self.labels.to(device), self.ids.to(device), boxes)


@dataclass(frozen=True)
class Splits:
    """The three splits of a dataset; test is the held-out set, validation is carved from training."""

    train: Split
    val: Split
    test: Split

    def by_name(self, name: str) -> Split:
        """The split called ``name`` ("train", "val" or "test")."""
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int, field: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(kept, held_out)``: ``fraction`` (the argument ``field``) of every class held out, chosen by ``seed``.

    Stratified, so a small held-out split still has every class in the training proportions. Both index
    arrays are sorted, so the split does not depend on the order in which classes are visited.
    """
    rng = np.random.default_rng(seed)
    held_out: list[np.ndarray] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = round(fraction * len(members))
        held_out.append(rng.permutation(members)[:count])
    held = np.sort(np.concatenate(held_out)).astype(np.int64)
    kept = np.setdiff1d(np.arange(len(labels), dtype=np.int64), held)
    if len(held) == 0 or len(kept) == 0:
        raise ConfigError(
            f"data.{field}: {fraction} of {len(labels)} samples leaves a split empty; "
            "valid: a fraction that keeps at least one sample on both sides"
        )
    return kept, held
