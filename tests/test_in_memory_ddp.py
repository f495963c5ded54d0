"""In-memory loading under real 2-process CPU DDP (gloo): every sample exactly once per epoch across ranks.

The run happens in a subprocess running a small script with ``strategy="ddp"`` (Lightning relaunches
the script for rank 1). Labels are sample ids, so each rank records exactly which samples it saw.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TRAIN, VAL, TEST = 101, 37, 23  # odd sizes: the two shards differ by one sample

SCRIPT = f"""
import json
import sys

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torchmetrics.aggregation import SumMetric

from attnlab.datamodules.base import TensorDataModule
from attnlab.datamodules.splits import Split, Splits


def identified(count: int) -> Split:
    ids = torch.arange(count)
    return Split(torch.rand(count, 1, 4, 4), ids, ids)


class IdentifiedDataModule(TensorDataModule):
    def __init__(self) -> None:
        super().__init__(num_classes={TRAIN}, in_channels=1, image_size=4, batch_size=8, num_workers=0, seed=0,
                         in_memory=True, augment=True, crop_padding=1, flip=True)

    def load_splits(self) -> Splits:
        return Splits(identified({TRAIN}), identified({VAL}), identified({TEST}))


class Recorder(pl.LightningModule):
    def __init__(self, out: str) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(16, {TRAIN})
        self.out = out
        self.seen = {{"train": {{}}, "val": {{}}, "test": {{}}, "train_batches": {{}}}}
        self.val_count = SumMetric()

    def _record(self, stage: str, labels: torch.Tensor) -> None:
        self.seen[stage].setdefault(str(self.current_epoch), []).extend(labels.tolist())

    def training_step(self, batch, index):
        images, labels = batch
        self._record("train", labels)
        self.seen["train_batches"][str(self.current_epoch)] = index + 1
        return F.cross_entropy(self.layer(images.flatten(1)), labels)

    def validation_step(self, batch, index):
        self._record("val", batch[1])
        self.val_count.update(torch.tensor(float(len(batch[1]))))
        self.log("val_count", self.val_count, on_epoch=True)

    def test_step(self, batch, index):
        self._record("test", batch[1])

    def on_fit_end(self) -> None:
        self.seen["val_count"] = float(self.trainer.callback_metrics["val_count"])

    def on_test_end(self) -> None:
        record = dict(self.seen, world_size=self.trainer.world_size)
        with open(f"{{self.out}}/rank{{self.global_rank}}.json", "w") as stream:
            json.dump(record, stream)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


if __name__ == "__main__":
    out = sys.argv[1]
    pl.seed_everything(7)
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=2, num_sanity_val_steps=0,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=out)
    model, datamodule = Recorder(out), IdentifiedDataModule()
    trainer.fit(model, datamodule=datamodule)
    trainer.test(model, datamodule=datamodule, verbose=False)
"""


@pytest.mark.slow
def test_two_rank_ddp_sees_every_sample_exactly_once_per_epoch(tmp_path: Path):
    script = tmp_path / "ddp_run.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [record["world_size"] for record in ranks] == [2, 2]

    for epoch in ("0", "1"):
        for stage, count in (("train", TRAIN), ("val", VAL)):
            seen = ranks[0][stage][epoch] + ranks[1][stage][epoch]
            assert sorted(seen) == list(range(count)), (stage, epoch)  # no sample missing, none twice
            assert abs(len(ranks[0][stage][epoch]) - len(ranks[1][stage][epoch])) <= 1
        assert ranks[0]["train_batches"][epoch] == ranks[1]["train_batches"][epoch] == 7  # lockstep: ceil(51 / 8)
    test_seen = [label for record in ranks for labels in record["test"].values() for label in labels]
    assert sorted(test_seen) == list(range(TEST))

    assert ranks[0]["train"]["0"] != ranks[0]["train"]["1"]  # a new permutation every epoch
    assert set(ranks[0]["train"]["0"]) != set(ranks[0]["train"]["1"])  # ... sharded anew
    assert ranks[0]["val_count"] == VAL  # Lightning's synced epoch metric counts every validation sample once
