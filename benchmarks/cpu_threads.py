"""Training steps on CPU next to a competing busy loop: threads as PyTorch picks them vs. as attnlab fits them.

PyTorch takes every CPU of the affinity mask; attnlab (``attnlab.training.threads``) takes those of
them that are free when the training starts. One run, in one process, alternating the two settings
(so the machine's other load hits both alike), with a busy loop pinned to the first CPU throughout:

    python benchmarks/cpu_threads.py --steps 20

prints the threads and seconds of each and the ratio (PyTorch's default over attnlab's).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from attnlab.modules.backbones import BackboneConfig
from attnlab.modules.classifier import AttentionClassifier
from attnlab.modules.design import AttentionDesign
from attnlab.training.threads import choose_threads, usable_cpus

BUSY_LOOP = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"


def seconds_for_steps(threads: int, steps: int, batch: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Forward, loss, backward and step of a small CBAM ResNet, ``steps`` times on ``threads`` threads."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = AttentionClassifier(
        backbone=BackboneConfig(name="resnet18", stem="cifar", width=0.25),
        attention=AttentionDesign(type="cbam", reduction=4),
        num_classes=10,
        in_channels=3,
        image_size=32,
    ).train()
    optimizer = model.optimizer_config.build(model.parameters())
    started = time.perf_counter()
    for _ in range(steps):
        loss = F.cross_entropy(model(batch[0]), batch[1])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two settings")
    args = parser.parse_args()
    cpus = usable_cpus()
    if len(cpus) < 2:
        sys.exit("needs at least two CPUs: one for the busy loop, one to spare")
    generator = torch.Generator().manual_seed(0)
    batch = (torch.randn(32, 3, 32, 32, generator=generator), torch.randint(0, 10, (32,), generator=generator))
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(cpus[0])])
    try:
        time.sleep(0.5)
        fitted = choose_threads()
        default = len(cpus)
        times = {default: 0.0, fitted: 0.0}
        for _ in range(args.rounds):
            for threads in (default, fitted):
                times[threads] += seconds_for_steps(threads, args.steps, batch)
    finally:
        busy.kill()
        busy.wait()
    load = os.getloadavg()[0]
    print(f"CPUs {len(cpus)}, busy loop on CPU {cpus[0]}, load {load:.1f}, {args.steps} steps x {args.rounds}")
    print(f"PyTorch's default: {default} threads  {times[default]:.1f} s")
    print(f"attnlab's fit:     {fitted} threads  {times[fitted]:.1f} s")
    print(f"ratio (default / fitted): {times[default] / times[fitted]:.2f}")


if __name__ == "__main__":
    main()
