"""An exponential moving average of the weights for validation, checkpoints and the test, on Lightning's callback.

Lightning's ``EMAWeightAveraging`` validates with the averaged weights and saves them as the checkpoint's
``state_dict``. A test that loads that checkpoint must run on them too: with the fitting instance still attached,
Lightning's loader would put the *current* weights back (other weights than the validation chose), and with a fresh
instance it warns that the averaging state cannot be restored. Here a checkpoint loaded outside fitting keeps the
averaged weights it holds, silently; a resumed fit restores both as Lightning does. The classifier attaches a fresh
instance for every stage (``configure_callbacks``).
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.trainer.states import TrainerFn


class AveragedWeights(EMAWeightAveraging):
    """EMA of parameters and buffers after every step with ``decay``; the test runs on the averaged weights."""

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
