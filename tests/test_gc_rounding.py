"""What `gc` equals: GCNet's floor rounding of C/16, timm's half-up rounding only with `hidden_rounding: nearest`."""

from attnlab.modules import AttentionDesign


def timm_hidden(channels: int, ratio: float) -> int:
    """timm's make_divisible(channels * ratio, 1, round_limit=0): half up, at least 1."""
    return max(1, int(channels * ratio + 0.5))


def test_gc_rounds_down_and_differs_from_timm_where_c_mod_16_is_at_least_8() -> None:
    gc = AttentionDesign(type="gc")
    differing = [c for c in range(16, 513) if gc.check_channels(c) != timm_hidden(c, 1 / 16)]
    assert gc.check_channels(24) == 1 and timm_hidden(24, 1 / 16) == 2
    assert len(differing) == 248
    assert all(c % 16 >= 8 for c in differing)


def test_gc_with_nearest_rounding_matches_timm_at_every_channel_count() -> None:
    gc_nearest = AttentionDesign(type="gc", hidden_rounding="nearest")
    assert all(gc_nearest.check_channels(c) == timm_hidden(c, 1 / 16) for c in range(1, 513))
