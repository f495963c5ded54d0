"""What attention costs: each preset, and two references written from CBAM's equations, against the plain network.

Variants: ``plain`` (no attention), every preset, ``released-cbam`` (the released CBAM code's module, written here
from its equations: avg/max pooled MLP, then a bias-free 7×7 conv + BN(momentum 0.01) on [max; mean]) and
``cheapest-cbam`` (the paper's CBAM written to be as cheap as plain PyTorch autograd allows; the reference for the
"attention alone at most 1.1× the cheapest correct version" target). All run interleaved in one process, in a new
random order each round, so drift and load hit every variant alike.

Parts: ``alone`` times the attention modules by themselves (every site of the network, on inputs of the sizes the
network gives them; train = forward + backward to the input and the weights, eval = forward under ``no_grad``),
``step`` the whole network (train = forward, loss, backward, SGD step; eval = forward). Ratios are per round against
``plain`` (step) or ``cheapest-cbam`` (alone); the table gives their median and the 25-75 % spread.

A sample taken while this process was descheduled (its CPU time under ``--min-own-cpu`` of the wall time) or while
other processes kept more than ``--max-other-cpus`` cores busy (from ``/proc/stat`` minus this process's own
jiffies) is discarded, and the table says how many were. On CUDA only the second check applies.

    python benchmarks/attention_overhead.py --width 0.25 --samples 9
    python benchmarks/attention_overhead.py --backbone resnet50 --stem imagenet --image-size 224 --device cuda \
        --precision bf16 --channels-last --compile
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnlab.modules.attention import Attention
from attnlab.modules.backbones import BackboneConfig
from attnlab.modules.design import PRESETS, AttentionDesign
from attnlab.modules.model import build_model

REFERENCES = ("released-cbam", "cheapest-cbam")


class ReleasedCBAM(nn.Module):
    """The released CBAM module from its equations (Woo et al. 2018, the authors' code's choices).

    ``Mc = σ(MLP(AvgPool(F)) + MLP(MaxPool(F)))``, ``F' = Mc ⊗ F``;
    ``Ms = σ(BN(conv7×7([MaxPool_c(F'); AvgPool_c(F')])))``, ``F'' = Ms ⊗ F'``.
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        hidden = channels // reduction
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def forward(self, x: Tensor) -> Tensor:
        size = (x.size(2), x.size(3))
        channel = self.mlp(F.avg_pool2d(x, size, stride=size)) + self.mlp(F.max_pool2d(x, size, stride=size))
        x = x * torch.sigmoid(channel)[:, :, None, None]
        pooled = torch.cat([torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)], dim=1)
        return x * torch.sigmoid(self.bn(self.conv(pooled)))


class CheapestCBAM(nn.Module):
    """The paper's CBAM (``cbam`` preset: biased MLP and conv, [avg; max]) in the fewest, cheapest autograd ops.

    One MLP call on [avg; max] stacked along the batch, means as sum × 1/n, the 7×7 conv on a channels_last copy
    of the 2-map input when training on large maps (its backward is several times faster there on CPU).
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        hidden = channels // reduction
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        pooled = torch.cat([x.sum((2, 3)) * (1.0 / (h * w)), x.amax((2, 3))])
        channel = self.fc2(F.relu(self.fc1(pooled))).view(2, n, c).sum(0)
        x = x * torch.sigmoid(channel)[:, :, None, None]
        maps = torch.cat([x.sum(1, keepdim=True) * (1.0 / c), x.amax(1, keepdim=True)], dim=1)
        if h * w >= 25 and x.device.type == "cpu" and torch.is_grad_enabled():
            maps = maps.contiguous(memory_format=torch.channels_last)
        return x * torch.sigmoid(self.conv(maps))


@dataclass
class Sampler:
    """Times callables and tells whether a sample was taken on a quiet machine."""

    device: str
    clock: str
    min_own_cpu: float
    max_other_cpus: float
    discarded: dict[str, int] = field(default_factory=lambda: {"descheduled": 0, "busy machine": 0})

    @staticmethod
    def _busy_jiffies() -> tuple[int, int]:
        """(all CPUs' busy jiffies, this process's jiffies)."""
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
        busy = sum(fields) - fields[3] - fields[4]  # minus idle and iowait
        with open("/proc/self/stat") as own:
            parts = own.read().rsplit(")", 1)[1].split()
        return busy, int(parts[11]) + int(parts[12])  # utime, stime

    def _sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def time(self, run: Callable[[], None], reps: int) -> float | None:
        """Seconds per call of ``run``, or ``None`` when the sample was disturbed (counted in ``discarded``)."""
        self._sync()
        busy0, own0 = self._busy_jiffies()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(reps):
            run()
        self._sync()
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        busy1, own1 = self._busy_jiffies()
        others = ((busy1 - busy0) - (own1 - own0)) / os.sysconf("SC_CLK_TCK") / wall
        if self.device == "cpu" and self.clock == "wall" and cpu < self.min_own_cpu * wall:
            self.discarded["descheduled"] += 1
            return None
        if others > self.max_other_cpus:
            self.discarded["busy machine"] += 1
            return None
        return (cpu if self.clock == "cpu" else wall) / reps


def _design(name: str) -> AttentionDesign:
    return AttentionDesign(type="none" if name == "plain" else "cbam" if name in REFERENCES else name)


def _build(name: str, args: argparse.Namespace) -> nn.Module:
    """The network for a variant; the references replace every CBAM module of the ``cbam`` network."""
    backbone = BackboneConfig(name=args.backbone, stem=args.stem, width=args.width)
    model = build_model(backbone, _design(name), num_classes=args.num_classes)
    if name in REFERENCES:
        reference = ReleasedCBAM if name == "released-cbam" else CheapestCBAM
        for parent in list(model.modules()):
            for child_name, child in parent.named_children():
                if isinstance(child, Attention):
                    setattr(parent, child_name, reference(child.channels))
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.to(args.device)


def _attention_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, Attention | ReleasedCBAM | CheapestCBAM)]


def _site_shapes(model: nn.Module, example: Tensor) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    handles = [
        m.register_forward_pre_hook(lambda _m, inputs: shapes.append(tuple(inputs[0].shape)))
        for m in _attention_modules(model)
    ]
    with torch.no_grad():
        model.eval()(example)
    for handle in handles:
        handle.remove()
    return shapes


@dataclass
class Variant:
    name: str
    runs: dict[str, Callable[[], None]]
    compile_s: float = 0.0


def _autocast(args: argparse.Namespace) -> torch.autocast:
    return torch.autocast(args.device, dtype=torch.bfloat16, enabled=args.precision == "bf16")


def _make_variant(name: str, args: argparse.Namespace, images: Tensor, labels: Tensor) -> Variant:
    torch.manual_seed(0)
    model = _build(name, args)
    shapes = _site_shapes(model, images[:2])
    modules = _attention_modules(model)
    if args.compile:
        for module in modules:
            module.compile()  # in place, as model.compile=attention does
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32  # what the convs before them give
    site_inputs = [
        torch.randn((args.batch_size, *shape[1:]), device=args.device, dtype=dtype).contiguous(memory_format=layout)
        for shape in shapes
    ]
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step_train() -> None:
        model.train()
        with _autocast(args):
            loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def step_eval() -> None:
        model.eval()
        with torch.no_grad(), _autocast(args):
            model(images)

    def alone_train() -> None:
        for module, x in zip(modules, site_inputs, strict=True):
            module.train()
            x = x.detach().requires_grad_()
            with _autocast(args):
                out = module(x)
            out.backward(torch.ones_like(out))

    def alone_eval() -> None:
        for module, x in zip(modules, site_inputs, strict=True):
            module.eval()
            with torch.no_grad(), _autocast(args):
                module(x)

    runs = {"step/train": step_train, "step/eval": step_eval}
    if modules:
        runs |= {"alone/train": alone_train, "alone/eval": alone_eval}
    runs = {part: run for part, run in runs.items() if part.split("/")[0] in args.parts}
    started = time.perf_counter()
    for run in runs.values():  # warm-up; with --compile this is where the compiling happens
        run()
        run()
    return Variant(name, runs, compile_s=time.perf_counter() - started if args.compile else 0.0)


def reference_difference(reference: type[nn.Module], preset: str, ties: bool, channels: int = 32) -> float:
    """Largest difference (outputs and input gradients, float64) of a reference from the preset it reproduces.

    With ``ties`` the input is rounded so that maxima repeat: ``amax`` (attnlab, the cheapest reference) splits
    the gradient evenly among tied maxima, the released code's ``max_pool2d`` / ``torch.max`` give it to one.
    """
    torch.manual_seed(0)
    x = torch.randn(4, channels, 8, 8, dtype=torch.float64)
    x = x.round(decimals=1) if ties else x
    ours = Attention(AttentionDesign(type=preset), channels).double()
    theirs = reference(channels).double()
    gate, spatial = ours.channel_gate.mlp, ours.spatial_gate
    linears = [module for module in theirs.modules() if isinstance(module, nn.Linear)]
    pairs = [(gate[0], linears[0]), (gate[-1], linears[1]), (spatial.conv, theirs.conv)]
    if spatial.norm is not None:
        nn.init.uniform_(spatial.norm.weight)  # not the zero init, so the spatial gate matters
        pairs.append((spatial.norm, theirs.bn))
    for mine, other in pairs:
        other.load_state_dict(mine.state_dict())
    results = []
    for module in (ours, theirs):
        inputs = x.clone().requires_grad_()
        out = module(inputs)
        out.backward(torch.cos(out))
        results.append((out.detach(), inputs.grad))
    return max((a - b).abs().max().item() for a, b in zip(*results, strict=True))


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--stem", default="cifar")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument(
        "--variants", default=",".join(["plain", *(name for name in PRESETS if name != "none"), *REFERENCES])
    )
    parser.add_argument("--parts", default="alone,step", help="alone, step or both")
    parser.add_argument("--samples", type=int, default=9, help="rounds; each times every variant once")
    parser.add_argument("--min-sample-s", type=float, default=0.15, help="repeat a call until a sample is this long")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: this process's CPU time (CPU only; immune to being descheduled, not to sharing caches)",
    )
    parser.add_argument("--min-own-cpu", type=float, default=0.9, help="discard below this CPU/wall time (wall)")
    parser.add_argument("--max-other-cpus", type=float, default=0.5, help="discard above this many busy cores")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the attention modules")
    parser.add_argument("--json", metavar="PATH", help="also write the table as JSON (what gpu_check.py reads)")
    args = parser.parse_args()
    args.parts = set(args.parts.split(","))
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch_size, 3, args.image_size, args.image_size, generator=generator)
    labels = torch.randint(0, args.num_classes, (args.batch_size,), generator=generator)
    images, labels = images.to(args.device), labels.to(args.device)
    if args.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)

    released = reference_difference(ReleasedCBAM, "cbam-official", ties=False)
    cheapest = reference_difference(CheapestCBAM, "cbam", ties=True)
    print(
        f"max difference, float64: released-cbam vs cbam-official {released:.1e}, cheapest-cbam vs cbam {cheapest:.1e}"
    )
    variants = [_make_variant(name, args, images, labels) for name in args.variants.split(",")]
    sampler = Sampler(
        args.device, args.clock if args.device == "cpu" else "wall", args.min_own_cpu, args.max_other_cpus
    )
    # Repetitions per sample: enough for --min-sample-s (jiffies are 10 ms), the same for every variant of a part.
    parts = sorted({part for variant in variants for part in variant.runs})
    reps = {}
    for part in parts:
        slowest = max(sampler.time(variant.runs[part], 1) or 1.0 for variant in variants if part in variant.runs)
        reps[part] = max(1, round(args.min_sample_s / slowest))
    sampler.discarded = dict.fromkeys(sampler.discarded, 0)
    times: dict[tuple[str, str], list[float | None]] = {}
    total = 0
    for round_index in range(args.samples):
        order = [(variant, part) for variant in variants for part in variant.runs]
        random.Random(round_index).shuffle(order)
        for variant, part in order:
            times.setdefault((variant.name, part), []).append(sampler.time(variant.runs[part], reps[part]))
            total += 1
        print(f"\rround {round_index + 1}/{args.samples}", end="", flush=True)
    print()

    with open("/proc/loadavg") as loadavg:
        load = " ".join(loadavg.read().split()[:3])
    kept = total - sum(sampler.discarded.values())
    reasons = ", ".join(f"{count} {reason}" for reason, count in sampler.discarded.items())
    print(
        f"{args.backbone} x{args.width} {args.stem} stem, {args.image_size}², batch {args.batch_size}, {args.device} "
        f"{args.precision}{' channels_last' if args.channels_last else ''}{' compiled' if args.compile else ''}, "
        f"{args.threads} thread(s), {sampler.clock} clock, torch {torch.__version__}; load {load}"
    )
    print(f"samples: {kept} of {total} kept ({reasons}); ratio = median [25%-75%] over rounds")
    print(f"{'variant':<16}" + "".join(f"{part:>28}" for part in parts))
    table: dict[str, dict[str, dict[str, float | None]]] = {}
    for variant in variants:
        cells = []
        for part in parts:
            baseline = "cheapest-cbam" if part.startswith("alone") else "plain"
            own = times.get((variant.name, part))
            base = times.get((baseline, part))
            if own is None:
                cells.append(f"{'-':>28}")
                continue
            quiet = [t for t in own if t is not None]
            ratios = [a / b for a, b in zip(own, base or [], strict=False) if a is not None and b is not None]
            ms = statistics.median(quiet) * 1e3 if quiet else float("nan")
            q1, median, q3 = _quantiles(ratios) if ratios else (None, None, None)
            table.setdefault(variant.name, {})[part] = {"ms": ms, "ratio": median, "compile_s": variant.compile_s}
            if not ratios:
                cells.append(f"{ms:8.2f}ms {'n/a':>18}")
                continue
            cells.append(f"{ms:8.2f}ms ×{median:5.3f} [{q1:5.3f}-{q3:5.3f}]")
        compiled = f"  (first calls, compiling: {variant.compile_s:.1f}s)" if args.compile else ""
        print(f"{variant.name:<16}" + "".join(cells) + compiled)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"load": load, "kept": kept, "total": total, "variants": table}, out, indent=1)


if __name__ == "__main__":
    main()
