"""Weight init for the backbones: torchvision's scheme, and the random streams parameters are drawn from.

Under common random numbers (``build_model(..., init_seed=s)``) the backbone draws from a stream of its own seeded
by ``(s, "backbone")`` and each attention module from ``(s, "attention", site)``, so two designs of one seed start
from bit-identical backbone weights: adding a gate does not shift the draws of the layers after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from attnlab.modules.attention import Attention


def stream_seed(seed: int, *names: str | int) -> int:
    """A 63-bit seed for the stream ``names`` of run ``seed``: unrelated for every distinct (seed, names)."""
    key = repr((int(seed), *names)).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1


@contextmanager
def init_stream(seed: int | None, *names: str | int) -> Iterator[None]:
    """Draw every parameter initialised inside from stream ``names`` of ``seed``, leaving torch's global RNG as it
    was; ``None`` draws from the global RNG instead (each design's init then depends on what was built before)."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, *names))
        yield


def init_backbone_weights(model: nn.Module, linear_std: float | None) -> None:
    """Convs kaiming-normal (fan_out), BN weight 1 / bias 0 (no zero-init of the last BN in a residual branch).

    ``linear_std`` is the normal std of Linear weights (VGG, MobileNet: 0.01); ``None`` keeps PyTorch's default
    (torchvision's ResNet). Attention modules keep the init they gave themselves (e.g. a zero spatial-BN scale).
    """
    in_attention = {id(sub) for module in model.modules() if isinstance(module, Attention) for sub in module.modules()}
    for module in model.modules():
        if id(module) in in_attention:
            continue
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear) and linear_std is not None:
            nn.init.normal_(module.weight, 0.0, linear_std)
            nn.init.zeros_(module.bias)
