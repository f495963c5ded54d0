"""Each fast path of the gates equals the plain formula: outputs and gradients, float64, ties in the max pools."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import pytest
import torch
from torch import Tensor, nn

from attnlab.modules import Attention, AttentionDesign, gate_ops
from attnlab.modules.gates import CHANNEL_DESCRIPTORS, SPATIAL_DESCRIPTORS

SMALL, LARGE = 4, 8  # map sides below and above the channels_last switch (gate_ops.CHANNELS_LAST_MIN_PIXELS)


def _tied(*shape: int, seed: int = 0) -> Tensor:
    """Values on a coarse grid, so maxima repeat; one channel is constant (every position ties)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(-3, 4, shape, generator=generator).double() / 2
    x[:, 0] = 1.5
    return x


def _values_and_grads(
    function: Callable[..., Tensor | list[Tensor]], inputs: list[Tensor], params: Sequence[Tensor] = ()
) -> tuple[Tensor, list[Tensor]]:
    """``function(*inputs)`` as one flat tensor, and the gradients of a fixed random weighting of it.

    The gradients are to (copies of) ``inputs`` and to ``params``, the weights ``function`` uses.
    """
    leaves = [tensor.detach().clone().requires_grad_() for tensor in inputs]
    out = function(*leaves)
    out = torch.cat([part.flatten() for part in out]) if isinstance(out, list) else out.flatten()
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    grads = torch.autograd.grad((out * weights).sum(), [*leaves, *params])
    return out.detach(), list(grads)


def _assert_same(fast: tuple[Tensor, list[Tensor]], plain: tuple[Tensor, list[Tensor]]) -> None:
    torch.testing.assert_close(fast[0], plain[0], rtol=1e-12, atol=1e-12)
    for fast_grad, plain_grad in zip(fast[1], plain[1], strict=True):
        torch.testing.assert_close(fast_grad, plain_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pools", [("avg", "max"), ("max", "avg"), ("max",), ("avg",), ("lp", "max", "lse", "avg")])
def test_channel_pools_equal_the_formulas_with_ties(pools: tuple[str, ...]) -> None:
    x = _tied(3, 5, 4, 4)

    def fast(x: Tensor) -> list[Tensor]:
        return gate_ops.pooled(x, pools, (2, 3), CHANNEL_DESCRIPTORS, keepdim=False)

    def plain(x: Tensor) -> list[Tensor]:
        return [CHANNEL_DESCRIPTORS[pool](x) for pool in pools]

    _assert_same(_values_and_grads(fast, [x]), _values_and_grads(plain, [x]))
    assert [t.shape for t in fast(x)] == [(3, 5)] * len(pools)


@pytest.mark.parametrize("pools", [("avg", "max"), ("max", "avg"), ("max",)])
def test_spatial_pools_equal_the_formulas_with_ties(pools: tuple[str, ...]) -> None:
    x = _tied(3, 6, 4, 4).transpose(1, 3)  # ties across channels too (every column of channel 0 is constant)

    def fast(x: Tensor) -> list[Tensor]:
        return gate_ops.pooled(x, pools, (1,), SPATIAL_DESCRIPTORS, keepdim=True)

    def plain(x: Tensor) -> list[Tensor]:
        return [SPATIAL_DESCRIPTORS[pool](x) for pool in pools]

    _assert_same(_values_and_grads(fast, [x]), _values_and_grads(plain, [x]))
    with torch.no_grad():  # the path without an autograd node
        for fast_value, plain_value in zip(fast(x), plain(x), strict=True):
            torch.testing.assert_close(fast_value, plain_value, rtol=0, atol=0)


def test_fused_pool_gradient_passes_gradcheck_away_from_ties() -> None:
    x = torch.randn(2, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: tuple(gate_ops.pooled(x, ("avg", "max"), (2, 3), {}, keepdim=True)), x)


def test_tied_maxima_share_the_gradient_evenly() -> None:
    x = torch.tensor([[[[2.0, 2.0], [1.0, 2.0]]]], dtype=torch.float64, requires_grad=True)
    (maximum,) = gate_ops.pooled(x, ("max",), (2, 3), {}, keepdim=False)
    maximum.sum().backward()
    assert x.grad.flatten().tolist() == pytest.approx([1 / 3, 1 / 3, 0.0, 1 / 3])


def _mlp(norm: bool) -> nn.Sequential:
    torch.manual_seed(0)
    layers = [nn.Linear(6, 3), *([nn.BatchNorm1d(3)] if norm else []), nn.ReLU(), nn.Linear(3, 6)]
    return nn.Sequential(*layers).double()


@pytest.mark.parametrize(
    ("norm", "training", "stacked"), [(False, True, True), (True, False, True), (True, True, False)]
)
def test_shared_mlp_stacks_the_descriptors_only_when_exact(norm: bool, training: bool, stacked: bool) -> None:
    mlp = _mlp(norm).train(training)
    plain_mlp = copy.deepcopy(mlp)
    calls: list[int] = []
    mlp[0].register_forward_pre_hook(lambda _module, inputs: calls.append(inputs[0].shape[0]))
    descriptors = [_tied(4, 6, seed=seed) for seed in range(3)]
    fast = _values_and_grads(lambda *d: gate_ops.shared_mlp(mlp, d), descriptors, list(mlp.parameters()))
    plain = _values_and_grads(lambda *d: sum(plain_mlp(one) for one in d), descriptors, list(plain_mlp.parameters()))
    assert calls == ([12] if stacked else [4, 4, 4])
    _assert_same(fast, plain)


@pytest.mark.parametrize(("side", "channels_last"), [(SMALL, False), (LARGE, True)])
def test_spatial_conv_switches_layout_by_map_size_and_keeps_the_numbers(side: int, channels_last: bool) -> None:
    conv = nn.Conv2d(2, 1, 7, padding=3).double()
    layouts: list[bool] = []
    conv.register_forward_pre_hook(
        lambda _m, inputs: layouts.append(inputs[0].is_contiguous(memory_format=torch.channels_last))
    )
    maps = [_tied(3, 2, side, side)]
    params = [conv.weight, conv.bias]
    fast = _values_and_grads(lambda m: gate_ops.spatial_conv(conv, m), maps, params)
    with torch.no_grad():  # forward alone is cheaper as it is
        gate_ops.spatial_conv(conv, maps[0])
    assert layouts == [channels_last, False]
    _assert_same(fast, _values_and_grads(lambda m: nn.functional.conv2d(m, *params, padding=3), maps, params))


def _plain_pooled(x: Tensor, pools: Sequence[str], dims: tuple[int, ...], formulas: dict, **_: bool) -> list[Tensor]:
    return [formulas[pool](x) for pool in pools]


def _plain_shared_mlp(mlp: nn.Module, descriptors: Sequence[Tensor]) -> Tensor:
    return sum(mlp(descriptor) for descriptor in descriptors)


@pytest.mark.parametrize("side", [SMALL, LARGE])
@pytest.mark.parametrize(
    "fields",
    [
        {"type": "cbam"},
        {"type": "cbam-official"},
        {"type": "cbam-timm"},
        {"type": "se"},
        {"type": "bam"},
        {"type": "cbam", "channel_pool": ("avg", "max", "lp", "lse"), "arrangement": "spatial_first"},
        {"type": "cbam", "spatial_pool": ("conv1x1",), "mlp_hidden_norm": "bn"},
    ],
)
def test_attention_equals_the_plain_formulas(fields: dict, side: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole module, fast paths on vs replaced by the straightforward ops, train mode (batch statistics)."""
    torch.manual_seed(0)
    fast_module = Attention(AttentionDesign.from_mapping(fields), 16).double()
    if fast_module.spatial_gate is not None and fast_module.spatial_gate.norm is not None:
        nn.init.uniform_(fast_module.spatial_gate.norm.weight)  # not zero, so the spatial gate matters
    plain_module = copy.deepcopy(fast_module)
    x = [_tied(4, 16, side, side)]
    fast = _values_and_grads(fast_module, x, list(fast_module.parameters()))
    monkeypatch.setattr(gate_ops, "pooled", _plain_pooled)
    monkeypatch.setattr(gate_ops, "shared_mlp", _plain_shared_mlp)
    monkeypatch.setattr(gate_ops, "spatial_conv", lambda conv, maps: conv(maps))
    _assert_same(fast, _values_and_grads(plain_module, x, list(plain_module.parameters())))
