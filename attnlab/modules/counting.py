"""Parameters and multiply-accumulates of a model, split into backbone vs attention and by module type.

MACs are ``FlopCounterMode`` FLOPs / 2 (convolutions and matrix products; norms, activations, pooling and the
gates' elementwise products count 0), which is how the papers' "GFLOPs" were counted. The question a user asks is
"what does the attention cost", so every module inside an :class:`~attnlab.modules.attention.Attention` is charged
to ``attention`` and everything else to ``backbone``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from attnlab.errors import ConfigError
from attnlab.modules.attention import Attention
from attnlab.modules.backbones import BackboneConfig
from attnlab.modules.design import AttentionDesign
from attnlab.modules.model import build_model
from attnlab.modules.validation import positive_int

PARTS: tuple[str, ...] = ("backbone", "attention")


@dataclass(frozen=True)
class CostLine:
    """The cost of all modules of one type in one part, e.g. ``attention`` / ``Linear``."""

    part: str
    module_type: str
    params: int
    macs: int


@dataclass(frozen=True)
class CostReport:
    """Totals of one forward pass on one example, and their breakdown (backbone lines first, then attention)."""

    params: int
    macs: int
    breakdown: tuple[CostLine, ...]

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    def part_total(self, part: str) -> tuple[int, int]:
        """``(params, macs)`` of one part (``backbone`` or ``attention``)."""
        lines = [line for line in self.breakdown if line.part == part]
        return sum(line.params for line in lines), sum(line.macs for line in lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: totals, ``gmacs``, per-part totals and the breakdown lines."""
        parts = {part: dict(zip(("params", "macs"), self.part_total(part), strict=True)) for part in PARTS}
        return {
            "params": self.params,
            "macs": self.macs,
            "gmacs": self.gmacs,
            "parts": parts,
            "breakdown": [dataclasses.asdict(line) for line in self.breakdown],
        }


def _breakdown(model: nn.Module, flops: dict[nn.Module, int]) -> tuple[CostLine, ...]:
    """Sum parameters (each module's own) and MACs per (part, module type); the costliest lines first in each part."""
    in_attention = {sub for module in model.modules() if isinstance(module, Attention) for sub in module.modules()}
    params: dict[tuple[str, str], int] = defaultdict(int)
    macs: dict[tuple[str, str], int] = defaultdict(int)
    for module in model.modules():
        key = ("attention" if module in in_attention else "backbone", type(module).__name__)
        params[key] += sum(parameter.numel() for parameter in module.parameters(recurse=False))
        macs[key] += flops.get(module, 0) // 2
    keys = sorted(
        (key for key in params if params[key] or macs[key]), key=lambda key: (PARTS.index(key[0]), -macs[key], key[1])
    )
    return tuple(CostLine(part, kind, params[part, kind], macs[part, kind]) for part, kind in keys)


class _ExclusiveFlops:
    """Charges every FLOP to the innermost module running when it happens, so a parent never counts its children."""

    def __init__(self, counter: FlopCounterMode) -> None:
        self.counter = counter
        self.flops: dict[nn.Module, int] = defaultdict(int)
        self.stack: list[nn.Module] = []
        self.seen = 0

    def _charge_since_last_event(self) -> None:
        total = self.counter.get_total_flops()
        if self.stack:
            self.flops[self.stack[-1]] += total - self.seen
        self.seen = total

    def enter(self, module: nn.Module, _args: Any) -> None:
        self._charge_since_last_event()
        self.stack.append(module)

    def leave(self, _module: nn.Module, _args: Any, _output: Any) -> None:
        self._charge_since_last_event()
        self.stack.pop()

    @contextmanager
    def hooked(self, model: nn.Module) -> Iterator[None]:
        handles = [module.register_forward_pre_hook(self.enter) for module in model.modules()]
        handles += [module.register_forward_hook(self.leave) for module in model.modules()]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()


def count_cost(model: nn.Module, input_shape: tuple[int, ...]) -> CostReport:
    """Params and MACs of ``model`` for one example of shape ``input_shape`` (no batch dimension, e.g. (3, 224, 224)).

    Runs one forward pass on a batch of 1, in eval mode under ``no_grad``, on the device of the model's parameters;
    a model built under ``torch.device("meta")`` is counted in milliseconds without allocating any memory.
    """
    if not input_shape:
        raise ConfigError("input_shape: must name the example's dimensions without the batch, e.g. (3, 224, 224)")
    for index, size in enumerate(input_shape):
        positive_int(f"input_shape[{index}]", size)
    first_parameter = next(model.parameters(), None)
    example = torch.zeros((1, *input_shape))
    if first_parameter is not None:
        example = example.to(device=first_parameter.device, dtype=first_parameter.dtype)
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    attribution = _ExclusiveFlops(counter)
    try:
        with torch.no_grad(), counter, attribution.hooked(model):
            model(example)
    finally:
        model.train(was_training)
    breakdown = _breakdown(model, attribution.flops)
    total_params = sum(parameter.numel() for parameter in model.parameters())
    return CostReport(params=total_params, macs=counter.get_total_flops() // 2, breakdown=breakdown)


def model_cost(
    backbone: BackboneConfig, attention: AttentionDesign, num_classes: int, in_channels: int, image_size: int
) -> CostReport:
    """The cost of ``build_model(...)`` at ``image_size``², built and counted on the meta device (fast, no memory)."""
    positive_int("image_size", image_size, " (pixels per side)")
    with torch.device("meta"):
        model = build_model(backbone, attention, num_classes, in_channels)
    return count_cost(model, (in_channels, image_size, image_size))
