"""The spatial attention maps a network computed, read by forward hooks on its spatial gates.

A gate returns its map before the sigmoid; the attention module multiplies its input by the sigmoid of it
(channel → spatial and spatial → channel: exactly that tensor; parallel designs such as BAM combine it
with the channel map first, so there it is the spatial part of the multiplier). Hooks read it without
changing any module, and are removed on leaving the context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from attnlab.modules.gates import SpatialGate


@contextmanager
def gate_maps(network: nn.Module) -> Iterator[dict[str, Tensor]]:
    """Yields {gate's module name: σ(its map), N×1×h×w}, filled by every forward pass inside the context."""
    maps: dict[str, Tensor] = {}

    def keep(name: str) -> Callable[[nn.Module, tuple[Tensor, ...], Tensor], None]:
        return lambda _module, _inputs, logits: maps.__setitem__(name, torch.sigmoid(logits).detach())

    hooks = [
        module.register_forward_hook(keep(name))
        for name, module in network.named_modules()
        if isinstance(module, SpatialGate)
    ]
    try:
        yield maps
    finally:
        for hook in hooks:
            hook.remove()


def last_gate_per_stage(maps: dict[str, Tensor]) -> dict[str, Tensor]:
    """{stage (the name's first part, e.g. ``layer2``): the map of its deepest gate}, in network order."""
    per_stage: dict[str, Tensor] = {}
    for name, gate_map in maps.items():
        per_stage[name.split(".")[0]] = gate_map
    return per_stage
