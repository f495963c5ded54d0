"""Invalid designs fail at construction with one line naming the field and what is valid."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from attnlab.errors import ConfigError
from attnlab.modules import CBAM, AttentionDesign, build_attention


def _one_line_error(build: Callable[[], Any], field: str, *hints: str) -> str:
    with pytest.raises(ValueError) as caught:
        build()
    message = str(caught.value)
    assert isinstance(caught.value, ConfigError)
    assert "\n" not in message
    assert f"attention.{field}" in message or field in message
    for hint in hints:
        assert hint in message
    return message


def test_even_kernel_size() -> None:
    _one_line_error(lambda: AttentionDesign(kernel_size=4), "kernel_size", "odd", "4")


@pytest.mark.parametrize("kernel_size", [0, -3])
def test_non_positive_kernel_size(kernel_size: int) -> None:
    _one_line_error(lambda: AttentionDesign(kernel_size=kernel_size), "kernel_size", "positive")


def test_reduction_leaving_no_hidden_channel_fails_at_build_time() -> None:
    design = AttentionDesign(type="cbam", reduction=32)  # a valid design on its own
    _one_line_error(lambda: build_attention(design, 16), "reduction", "at most 16")


def test_reduction_is_only_checked_where_a_hidden_layer_exists() -> None:
    spatial_only = AttentionDesign(type="cbam", channel=False, reduction=32)
    assert build_attention(spatial_only, 16).spatial_gate is not None
    bottleneck = AttentionDesign(type="bam", channel=False, reduction=32)
    _one_line_error(lambda: build_attention(bottleneck, 16), "reduction")


def test_non_positive_reduction() -> None:
    _one_line_error(lambda: AttentionDesign(reduction=0), "reduction", "positive")


def test_empty_channel_pool() -> None:
    _one_line_error(lambda: AttentionDesign(channel_pool=()), "channel_pool", "avg, max, lp, lse")


def test_empty_spatial_pool() -> None:
    _one_line_error(lambda: AttentionDesign(spatial_pool=()), "spatial_pool", "avg, max, conv1x1")


def test_unknown_pool() -> None:
    _one_line_error(lambda: AttentionDesign(channel_pool=("avg", "median")), "channel_pool", "median", "lse")


def test_learned_compression_does_not_mix_with_pooling() -> None:
    _one_line_error(lambda: AttentionDesign(spatial_pool=("conv1x1", "avg")), "spatial_pool", "conv1x1")


def test_combine_without_parallel() -> None:
    _one_line_error(lambda: AttentionDesign(type="cbam", combine="max"), "combine", "parallel")


def test_unknown_combine() -> None:
    _one_line_error(lambda: AttentionDesign(arrangement="parallel", combine="mean"), "combine", "sum, product, max")


def test_unknown_arrangement() -> None:
    _one_line_error(lambda: AttentionDesign(arrangement="sideways"), "arrangement", "spatial_first")


def test_unknown_preset() -> None:
    _one_line_error(lambda: AttentionDesign(type="fca"), "type", "cbam-official", "bam", "simam")


def test_unknown_field() -> None:
    _one_line_error(lambda: AttentionDesign.from_mapping({"type": "cbam", "kernel": 7}), "kernel", "kernel_size")


def test_unknown_field_in_convenience_class() -> None:
    _one_line_error(lambda: CBAM(64, ratio=8), "ratio", "reduction")


def test_zero_init_needs_a_spatial_norm() -> None:
    _one_line_error(lambda: AttentionDesign(type="cbam", spatial_norm_zero_init=True), "spatial_norm_zero_init")


def test_non_boolean_switch() -> None:
    _one_line_error(lambda: AttentionDesign(channel="yes"), "channel", "true or false")


@pytest.mark.parametrize("channels", [0, -8, 3.5])
def test_non_positive_channel_count(channels: Any) -> None:
    _one_line_error(lambda: build_attention(AttentionDesign(), channels), "channels", "positive")


@pytest.mark.parametrize(
    ("fields", "field", "hint"),
    [
        ({"type": "cbam", "channel_kernel_size": 5}, "channel_kernel_size", "conv1d"),
        ({"type": "eca", "channel_kernel_size": 4}, "channel_kernel_size", "odd"),
        ({"type": "eca", "channel_kernel_size": "auto"}, "channel_kernel_size", "adaptive"),
        ({"type": "cbam", "energy_lambda": 1e-4}, "energy_lambda", "energy"),
        ({"type": "simam", "energy_lambda": 0.0}, "energy_lambda", "> 0"),
        ({"type": "simam", "channel_pool": ["avg", "max"]}, "channel_pool", "[avg]"),
        ({"type": "coord", "channel_pool": ["strip", "avg"]}, "channel_pool", "stands alone"),
        ({"type": "coord", "channel_transform": "conv1d"}, "channel_transform", "mlp"),
        ({"type": "coord", "mlp_hidden_norm": "ln"}, "mlp_hidden_norm", "bn"),
        ({"type": "coord", "spatial": True, "arrangement": "parallel"}, "arrangement", "channel_first"),
        ({"type": "coord", "apply": "add"}, "apply", "multiply"),
        ({"type": "eca", "mlp_hidden_norm": "ln"}, "mlp_hidden_norm", "mlp"),
        ({"type": "eca", "channel_norm": "bn"}, "channel_norm", "mlp"),
        ({"type": "gc", "spatial": True, "arrangement": "parallel"}, "apply", "sequential"),
        ({"type": "cbam", "hidden_divisor": 0}, "hidden_divisor", "positive"),
        ({"type": "cbam", "hidden_rounding": "ceil"}, "hidden_rounding", "floor, nearest"),
        ({"type": "cbam", "channel_transform": "fft"}, "channel_transform", "mlp, conv1d, energy"),
        ({"type": "cbam", "apply": "subtract"}, "apply", "multiply, add"),
        ({"type": "cbam", "channel_merge": "middle"}, "channel_merge", "after, before"),
        ({"type": "cbam", "spatial_merge": "middle"}, "spatial_merge", "after, before"),
        ({"type": "cbam", "mlp_activation": "gelu"}, "mlp_activation", "relu, hardswish"),
        ({"type": "cbam", "mlp_hidden_norm": "gn"}, "mlp_hidden_norm", "none, bn, ln"),
        ({"type": "cbam", "spatial_conv_bias": "yes"}, "spatial_conv_bias", "true or false"),
    ],
)
def test_invalid_family_combinations_are_one_line_errors(fields: dict[str, Any], field: str, hint: str) -> None:
    _one_line_error(lambda: AttentionDesign.from_mapping(fields), field, hint)


def test_family_axes_compose_where_they_make_sense() -> None:
    """ECA's transform in CBAM's channel gate, GC's pooling with max, a merged SE: all valid designs."""
    assert AttentionDesign(type="cbam", channel_transform="conv1d").channel_kernel_size == "adaptive"
    assert AttentionDesign(type="cbam", channel_pool=("attention", "max")).channel_pool == ("attention", "max")
    assert AttentionDesign(type="se", channel_merge="before").channel_merge == "before"
    assert AttentionDesign(type="simam", spatial=True).spatial  # SimAM then CBAM's spatial gate
    # Fields that do not apply resolve to None, so a resolved design round-trips through a config file.
    eca_as_mlp = AttentionDesign(type="eca", channel_transform="mlp")
    assert eca_as_mlp.channel_kernel_size is None
    assert AttentionDesign.from_mapping(eca_as_mlp.to_dict()) == eca_as_mlp
    assert AttentionDesign(type="cbam").spatial_conv_bias is True
    assert AttentionDesign(type="cbam", spatial_norm="bn").spatial_conv_bias is False  # the BN's shift replaces it
