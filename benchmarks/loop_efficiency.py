"""How much of the hardware the full Lightning loop keeps: its throughput over a bare training loop's.

Both loops train the same AttentionClassifier on the same in-memory batches with the same
optimiser; the Lightning side runs with everything a real run has (metrics, cost monitor, logging,
checkpointing, progress bar). A ratio near 1.0 means the framework costs nothing noticeable.

    python benchmarks/loop_efficiency.py --backbone resnet18 --width 0.5 --image-size 32 --steps 60
"""

from __future__ import annotations

import argparse
import tempfile
import time

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from attnlab.modules.backbones import BackboneConfig
from attnlab.modules.classifier import AttentionClassifier
from attnlab.modules.design import AttentionDesign


def make_model(args: argparse.Namespace) -> AttentionClassifier:
    return AttentionClassifier(
        backbone=BackboneConfig(name=args.backbone, stem="cifar", width=args.width),
        attention=AttentionDesign(type=args.attention),
        num_classes=10,
        in_channels=3,
        image_size=args.image_size,
    ).to(args.device)


def make_batches(args: argparse.Namespace) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    shape = (args.batch_size, 3, args.image_size, args.image_size)
    return [
        (torch.randn(shape, generator=generator), torch.randint(0, 10, (args.batch_size,), generator=generator))
        for _ in range(8)
    ]


def bare_loop_images_per_s(args: argparse.Namespace, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """forward, loss, backward, step: nothing else."""
    model = make_model(args).train()
    optimizer = model.optimizer_config.build(model.parameters())
    device_batches = [(x.to(args.device), y.to(args.device)) for x, y in batches]

    autocast = torch.autocast(args.device, dtype=torch.bfloat16, enabled=args.precision.startswith("bf16"))

    def step(index: int) -> None:
        images, labels = device_batches[index % len(device_batches)]
        with autocast:
            loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for index in range(args.warmup):
        step(index)
    if args.device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for index in range(args.steps):
        step(index)
    if args.device == "cuda":
        torch.cuda.synchronize()
    return args.steps * args.batch_size / (time.perf_counter() - started)


class _Timer(L.Callback):
    """Times the training steps after the warm-up, as the bare loop is timed."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.started = 0.0
        self.elapsed = 0.0

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.warmup:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.started = time.perf_counter()

    def on_train_end(self, trainer: L.Trainer, *args: object) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.elapsed = time.perf_counter() - self.started


def lightning_loop_images_per_s(args: argparse.Namespace, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """The same steps through Trainer.fit with the full set of attnlab callbacks and a CSV logger."""
    images = torch.cat([x for x, _ in batches]).repeat(1 + (args.steps + args.warmup) // len(batches), 1, 1, 1)
    labels = torch.cat([y for _, y in batches]).repeat(1 + (args.steps + args.warmup) // len(batches))
    loader = DataLoader(TensorDataset(images, labels), batch_size=args.batch_size, shuffle=False)
    timer = _Timer(args.warmup)
    with tempfile.TemporaryDirectory() as root:
        trainer = L.Trainer(
            accelerator=args.device,
            devices=1,
            max_steps=args.warmup + args.steps,
            limit_val_batches=0,
            callbacks=[timer],
            default_root_dir=root,
            enable_model_summary=False,
            precision=args.precision,
        )
        trainer.fit(make_model(args), train_dataloaders=loader)
    return args.steps * args.batch_size / timer.elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--attention", default="cbam")
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--precision", default="32-true")
    parser.add_argument("--repeats", type=int, default=2, help="alternate the two loops this often; keep each best")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    batches = make_batches(args)
    # Alternating and keeping the best of each shields the ratio from other load on the machine.
    bare = full = 0.0
    for _ in range(args.repeats):
        bare = max(bare, bare_loop_images_per_s(args, batches))
        full = max(full, lightning_loop_images_per_s(args, batches))
    print(f"bare loop       {bare:10.1f} images/s")
    print(f"lightning loop  {full:10.1f} images/s")
    print(f"loop efficiency {full / bare:10.3f}  (lightning / bare, {args.backbone} x{args.width} + {args.attention})")


if __name__ == "__main__":
    main()
