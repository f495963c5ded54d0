"""Fresh training canvases every epoch: new samples each epoch, the same for every row at a seed, stored splits kept."""

from __future__ import annotations

import pytest
import torch

from attnlab.datamodules import ClutteredDigitsDataModule
from attnlab.errors import ConfigError

SMALL = {"num_train": 64, "num_val": 16, "num_test": 16, "canvas_size": 16, "digit_scale": 1, "batch_size": 32}


def epoch_images(module: ClutteredDigitsDataModule, epoch: int) -> torch.Tensor:
    loader = module.train_dataloader()
    loader = type(loader)(**{**loader.__dict__, "epoch_source": lambda: epoch})
    return torch.cat([images for images, _ in loader])


def test_each_epoch_draws_new_canvases_and_every_row_sees_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PL_GLOBAL_SEED", "5")
    one, other = (ClutteredDigitsDataModule(**SMALL, fresh_canvases=True) for _ in range(2))
    stored = ClutteredDigitsDataModule(**SMALL)
    for module in (one, other, stored):
        module.setup("fit")
    first, second = epoch_images(one, 0), epoch_images(one, 1)
    assert first.shape == second.shape == (64, 1, 16, 16)
    assert not torch.equal(first, second)
    assert torch.equal(first, epoch_images(other, 0))  # a second row of the study: the same canvases
    assert not torch.equal(epoch_images(stored, 0).sort(0).values, first.sort(0).values)
    assert torch.equal(epoch_images(stored, 0), epoch_images(stored, 0))  # without the option: stored split
    for name in ("val", "test"):  # what is evaluated never changes
        assert torch.equal(one.splits.by_name(name).images, stored.splits.by_name(name).images)


def test_another_seed_draws_other_canvases(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = []
    for seed in ("0", "1"):
        monkeypatch.setenv("PL_GLOBAL_SEED", seed)
        module = ClutteredDigitsDataModule(**SMALL, fresh_canvases=True)
        module.setup("fit")
        drawn.append(epoch_images(module, 0).sort(0).values)
    assert not torch.equal(*drawn)


def test_fresh_canvases_need_the_in_memory_loader() -> None:
    with pytest.raises(ConfigError, match=r"^data.fresh_canvases: true needs data.in_memory: true"):
        ClutteredDigitsDataModule(**SMALL, fresh_canvases=True, in_memory=False)
