"""The gates' expensive steps at their cheapest, each equal to the plain formula (outputs and gradients).

Chosen by shape and layout, never by the user (``tests/test_gate_fast_paths.py`` checks each against the formula
where it switches on and off):

- :func:`pooled`: avg and max pools of one tensor in one autograd node whose backward is a single ``where``
  (autograd's own would materialise a tie mask, a count and two full-size gradients, then add them);
- :func:`shared_mlp`: one MLP call on the descriptors stacked along the batch instead of one per descriptor, when
  that is exact (no BatchNorm in training mode, whose statistics would mix the descriptors);
- :func:`spatial_conv`: the k×k conv of a pooled map on a channels_last copy on CPU when the map is large and the
  conv will be differentiated, where its backward is several times faster; small maps and eval stay as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

# The fused pools: the ones whose gradient has a closed form cheap enough to write by hand.
FUSED_POOLS: tuple[str, ...] = ("avg", "max")

# H×W from which a channels_last copy makes the CPU k×k conv's forward + backward cheaper (measured on torch 2.13,
# 2-map input, batch 128: about even at 5×5, 1.5× at 8×8, 3× at 32×32, 4× at 56×56).
CHANNELS_LAST_MIN_PIXELS = 25


_POOL_OPS: dict[str, Callable[..., Tensor]] = {"avg": torch.mean, "max": torch.amax}


class _AvgMaxPool(torch.autograd.Function):
    """``mean`` and/or ``amax`` of ``x`` over ``dims`` (kept as size 1), in the order of ``pools``.

    The gradient is autograd's for those ops: the mean's spread as ``1/n``; the max's split evenly among tied maxima
    (as ``amax``'s backward does), both written in one ``where`` over ``x == max``.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, dims: tuple[int, ...], pools: tuple[str, ...]) -> tuple[Tensor, ...]:
        outputs = {pool: _POOL_OPS[pool](x, dims, keepdim=True) for pool in pools}
        ctx.dims, ctx.pools = dims, pools
        ctx.count = math.prod(x.shape[dim] for dim in dims)
        ctx.save_for_backward(x, outputs.get("max"))
        return tuple(outputs[pool] for pool in pools)

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor | None, None, None]:
        x, maximum = ctx.saved_tensors
        by_pool = dict(zip(ctx.pools, grads, strict=True))
        spread = by_pool["avg"] * (1.0 / ctx.count) if "avg" in by_pool else None
        if maximum is None:
            return spread.expand_as(x), None, None
        is_max = x == maximum
        # Counting the ties on the mask's bytes is 3× faster than a bool sum (which widens to int64 first).
        ties = is_max.view(torch.uint8).sum(ctx.dims, keepdim=True, dtype=torch.int32)
        on_max = by_pool["max"] / ties
        if spread is None:
            return torch.where(is_max, on_max, 0.0), None, None
        return torch.where(is_max, on_max + spread, spread), None, None


def pooled(
    x: Tensor,
    pools: Sequence[str],
    dims: tuple[int, ...],
    formulas: dict[str, Callable[[Tensor], Tensor]],
    *,
    keepdim: bool,
) -> list[Tensor]:
    """Each pool of ``x`` over ``dims``, in the order of ``pools``, shaped as ``formulas[pool](x)`` would be.

    ``avg`` and ``max`` go through one fused node; any other pool is its entry in ``formulas`` (whose results
    keep the reduced dims as size 1 exactly when ``keepdim``).
    """
    fused = tuple(pool for pool in pools if pool in FUSED_POOLS)
    if not fused:
        values = {}
    elif torch.is_grad_enabled() and x.requires_grad:
        values = dict(zip(fused, _AvgMaxPool.apply(x, dims, fused), strict=True))
    else:  # nothing to differentiate: the same ops without an autograd node around them
        values = {pool: _POOL_OPS[pool](x, dims, keepdim=True) for pool in fused}
    if not keepdim:
        values = {pool: value.squeeze(dims) for pool, value in values.items()}
    return [values[pool] if pool in values else formulas[pool](x) for pool in pools]


def _stacking_is_exact(mlp: nn.Module) -> bool:
    """A batch-norm in training mode normalises over the batch, so stacking descriptors would change its statistics."""
    return not any(isinstance(module, nn.modules.batchnorm._BatchNorm) and module.training for module in mlp.modules())


def shared_mlp(mlp: nn.Module, descriptors: Sequence[Tensor]) -> Tensor:
    """``Σ_d mlp(d)`` over N×C descriptors: one call on them stacked along the batch when that is exact."""
    if len(descriptors) == 1 or not _stacking_is_exact(mlp):
        logits = mlp(descriptors[0])
        for descriptor in descriptors[1:]:
            logits = logits + mlp(descriptor)
        return logits
    batch = descriptors[0].shape[0]
    return mlp(torch.cat(list(descriptors))).unflatten(0, (len(descriptors), batch)).sum(0)


def spatial_conv(conv: nn.Conv2d, maps: Tensor) -> Tensor:
    """``conv(maps)``, on a channels_last copy of the few-channel ``maps`` when that is cheaper.

    That is on CPU, for maps of at least :data:`CHANNELS_LAST_MIN_PIXELS`, when the conv will be differentiated:
    its backward is 2-4× faster on channels_last there, its forward alone 2× slower (so eval stays as it is).
    The module is still called, so its hooks see the call.
    """
    backward = torch.is_grad_enabled() and (maps.requires_grad or conv.weight.requires_grad)
    if backward and maps.device.type == "cpu" and maps.shape[-2] * maps.shape[-1] >= CHANNELS_LAST_MIN_PIXELS:
        maps = maps.contiguous(memory_format=torch.channels_last)
    return conv(maps)
