"""Common random numbers: within one seed every row of a study starts from the same backbone weights and sees the
same batches, so a paired difference measures the design; ``model.randomness=independent`` keeps the old draws."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from attnlab.modules import AttentionDesign, BackboneConfig, build_model
from attnlab.training import overrides_to_args, run_training

CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "digits.yaml")


class FirstSteps(Callback):
    """Keeps the backbone's weights at step 0 and the first training batches."""

    def __init__(self) -> None:
        self.backbone: dict[str, torch.Tensor] = {}
        self.batches: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.backbone = {
            name: tensor.detach().clone()
            for name, tensor in pl_module.net.state_dict().items()
            if ".attention." not in name
        }

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: object, index: int) -> None:
        images, labels = batch
        self.batches.append((images.clone(), labels.clone()))


def first_steps(attention: str, randomness: str, in_memory: bool, seed: int = 3) -> FirstSteps:
    """Two training steps of one study row (``attention``) at ``seed``, augmentation on."""
    settings = {
        "seed_everything": seed,
        "trainer.max_epochs": 1,
        "trainer.limit_train_batches": 2,
        "trainer.limit_val_batches": 1,
        "trainer.enable_progress_bar": False,
        "trainer.enable_model_summary": False,
        "model.backbone.width": 0.125,
        "model.attention.type": attention,
        "model.attention.reduction": 2,
        "model.randomness": randomness,
        "data.scale": 1,
        "data.augment": True,
        "data.in_memory": in_memory,
    }
    recorder = FirstSteps()
    run_training(["--config", CONFIG, *overrides_to_args(settings)], callbacks=[recorder], run_test=False)
    return recorder


def assert_same_batches(first: FirstSteps, second: FirstSteps) -> None:
    assert len(first.batches) == len(second.batches) == 2
    for (images_a, labels_a), (images_b, labels_b) in zip(first.batches, second.batches, strict=True):
        assert torch.equal(images_a, images_b) and torch.equal(labels_a, labels_b)


@pytest.mark.parametrize("in_memory", [True, False], ids=["device-loader", "dataloader"])
def test_rows_of_one_seed_share_backbone_init_and_batches(in_tmp_dir: Path, in_memory: bool) -> None:
    plain = first_steps("none", "common", in_memory)
    gated = first_steps("cbam", "common", in_memory)
    assert plain.backbone.keys() == gated.backbone.keys() and len(plain.backbone) > 20
    assert all(torch.equal(plain.backbone[name], gated.backbone[name]) for name in plain.backbone)
    assert_same_batches(plain, gated)
    other_seed = first_steps("none", "common", in_memory, seed=4)
    assert not torch.equal(plain.backbone["conv1.weight"], other_seed.backbone["conv1.weight"])
    assert not torch.equal(plain.batches[0][0], other_seed.batches[0][0])


def test_independent_randomness_lets_a_gate_shift_the_backbone_init(in_tmp_dir: Path) -> None:
    plain = first_steps("none", "independent", in_memory=True)
    gated = first_steps("cbam", "independent", in_memory=True)
    # The backbone's init runs after every module (gates included) drew its default init from the same stream.
    assert not torch.equal(plain.backbone["conv1.weight"], gated.backbone["conv1.weight"])
    assert not torch.equal(plain.backbone["fc.weight"], gated.backbone["fc.weight"])


def test_attention_streams_are_per_site_and_leave_the_global_rng_alone() -> None:
    backbone, design = BackboneConfig(stem="cifar", width=0.25), AttentionDesign(type="cbam", reduction=4)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    first = build_model(backbone, design, 10, 1, init_seed=7)
    assert torch.equal(torch.get_rng_state(), before)
    again = build_model(backbone, design, 10, 1, init_seed=7)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True))
    mlp = [name for name in first.state_dict() if name.endswith("attention.channel_gate.mlp.0.weight")]
    assert len(mlp) == 8  # one CBAM per basic block
    weights = [first.state_dict()[name] for name in mlp[:2]]
    assert weights[0].shape == weights[1].shape and not torch.equal(*weights)
