"""The attention design: one validated record for every point of the CBAM/BAM/SE design space.

A design is built from a preset (``type``) plus any fields the user sets; every field left at
``None`` takes the preset's value. Invalid designs fail here, at construction, with a one-line
``ConfigError`` (a ``ValueError``) that names the field and what would be valid, so no compute is spent on them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from attnlab.errors import ConfigError
from attnlab.modules.validation import one_of, positive_int

ChannelPool = Literal["avg", "max", "lp", "lse"]
SpatialPool = Literal["avg", "max", "conv1x1"]
Arrangement = Literal["channel_first", "spatial_first", "parallel"]
Combine = Literal["sum", "product", "max"]
SpatialBranch = Literal["pooled", "bottleneck"]
Norm = Literal["none", "bn"]
Placement = Literal["block", "stage"]

CHANNEL_POOLS: tuple[str, ...] = ("avg", "max", "lp", "lse")
SPATIAL_POOLS: tuple[str, ...] = ("avg", "max", "conv1x1")
ARRANGEMENTS: tuple[str, ...] = ("channel_first", "spatial_first", "parallel")
COMBINES: tuple[str, ...] = ("sum", "product", "max")
SPATIAL_BRANCHES: tuple[str, ...] = ("pooled", "bottleneck")
NORMS: tuple[str, ...] = ("none", "bn")
PLACEMENTS: tuple[str, ...] = ("block", "stage")

_CBAM_PAPER: dict[str, Any] = {
    "channel": True,
    "spatial": True,
    "arrangement": "channel_first",
    "combine": "sum",
    "channel_pool": ("avg", "max"),
    "spatial_pool": ("avg", "max"),
    "spatial_branch": "pooled",
    "reduction": 16,
    "kernel_size": 7,
    "dilation": 4,
    "dilated_convs": 2,
    "channel_norm": "none",
    "mlp_hidden_norm": "none",
    "spatial_norm": "none",
    "spatial_norm_zero_init": False,
    # The paper's parameter counts (28.09M for ResNet-50 + CBAM/SE) need a biased MLP.
    "mlp_bias": True,
    "placement": "block",
    "residual": False,
}

_BAM_PAPER: dict[str, Any] = {
    **_CBAM_PAPER,
    "arrangement": "parallel",
    "combine": "sum",
    "channel_pool": ("avg",),
    "spatial_branch": "bottleneck",
    "channel_norm": "bn",
    "mlp_hidden_norm": "bn",
    "spatial_norm": "bn",
    "placement": "stage",
    "residual": True,
}

PRESETS: dict[str, dict[str, Any]] = {
    "none": {**_CBAM_PAPER, "channel": False, "spatial": False},
    "se": {**_CBAM_PAPER, "spatial": False, "channel_pool": ("avg",)},
    "cbam": _CBAM_PAPER,
    # Jongchan/attention-module: conv (no bias) + BN(momentum 0.01, scale 0), [max; mean] order.
    "cbam-official": {
        **_CBAM_PAPER,
        "spatial_pool": ("max", "avg"),
        "spatial_norm": "bn",
        "spatial_norm_zero_init": True,
    },
    # timm/layers/cbam.py: 1x1-conv MLP without bias, conv + BN with the usual scale of 1.
    "cbam-timm": {**_CBAM_PAPER, "spatial_norm": "bn", "mlp_bias": False},
    "bam": _BAM_PAPER,
    # Released BAM: 1 + sigmoid(Mc * Ms), no final BN on either branch.
    "bam-official": {
        **_BAM_PAPER,
        "combine": "product",
        "channel_norm": "none",
        "spatial_norm": "none",
    },
}

PRESET_FAMILY: dict[str, str] = {
    "none": "none",
    "se": "se",
    "cbam": "cbam",
    "cbam-official": "cbam",
    "cbam-timm": "cbam",
    "bam": "bam",
    "bam-official": "bam",
}


def _one_of(field: str, value: Any, valid: tuple[str, ...]) -> None:
    one_of(f"attention.{field}", value, valid)


def _pool_set(field: str, value: Any, valid: tuple[str, ...]) -> tuple[str, ...]:
    pools = (value,) if isinstance(value, str) else tuple(value)
    if not pools:
        raise ConfigError(f"attention.{field}: must be a non-empty subset of {', '.join(valid)}")
    for pool in pools:
        _one_of(field, pool, valid)
    if len(set(pools)) != len(pools):
        raise ConfigError(f"attention.{field}: {list(pools)} repeats a pool; list each once")
    return pools


def _positive_int(field: str, value: Any) -> None:
    positive_int(f"attention.{field}", value)


@dataclass(frozen=True)
class AttentionDesign:
    """One attention design; fields left ``None`` take the value of the ``type`` preset.

    ``type`` picks a preset: ``none``, ``se``, ``cbam`` (paper), ``cbam-official`` (released
    code), ``cbam-timm``, ``bam`` (paper) or ``bam-official`` (released code).
    """

    type: str = "cbam"
    channel: bool | None = None
    spatial: bool | None = None
    arrangement: Arrangement | None = None
    combine: Combine | None = None
    channel_pool: tuple[ChannelPool, ...] | None = None
    spatial_pool: tuple[SpatialPool, ...] | None = None
    spatial_branch: SpatialBranch | None = None
    reduction: int | None = None
    kernel_size: int | None = None
    dilation: int | None = None
    dilated_convs: int | None = None
    channel_norm: Norm | None = None
    mlp_hidden_norm: Norm | None = None
    spatial_norm: Norm | None = None
    spatial_norm_zero_init: bool | None = None
    mlp_bias: bool | None = None
    placement: Placement | None = None
    residual: bool | None = None

    def __post_init__(self) -> None:
        _one_of("type", self.type, tuple(PRESETS))
        preset = PRESETS[self.type]
        combine_was_set = self.combine is not None
        for field in dataclasses.fields(self):
            if field.name != "type" and getattr(self, field.name) is None:
                object.__setattr__(self, field.name, preset[field.name])
        self._validate(combine_was_set)

    def _validate(self, combine_was_set: bool) -> None:
        _one_of("arrangement", self.arrangement, ARRANGEMENTS)
        if self.arrangement != "parallel":
            if combine_was_set:
                raise ConfigError(
                    f"attention.combine: only applies when arrangement is 'parallel' "
                    f"(got arrangement={self.arrangement!r})"
                )
            # Not applicable: None, so that the resolved design round-trips through a config file.
            object.__setattr__(self, "combine", None)
        else:
            _one_of("combine", self.combine, COMBINES)
        object.__setattr__(self, "channel_pool", _pool_set("channel_pool", self.channel_pool, CHANNEL_POOLS))
        spatial_pool = _pool_set("spatial_pool", self.spatial_pool, SPATIAL_POOLS)
        if "conv1x1" in spatial_pool and len(spatial_pool) > 1:
            raise ConfigError(
                "attention.spatial_pool: 'conv1x1' is a learned compression and stands alone; "
                "use a subset of avg, max, or conv1x1 by itself"
            )
        object.__setattr__(self, "spatial_pool", spatial_pool)
        _one_of("spatial_branch", self.spatial_branch, SPATIAL_BRANCHES)
        for field in ("reduction", "dilation", "dilated_convs"):
            _positive_int(field, getattr(self, field))
        _positive_int("kernel_size", self.kernel_size)
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"attention.kernel_size: must be a positive odd integer, got {self.kernel_size}")
        for field in ("channel_norm", "mlp_hidden_norm", "spatial_norm"):
            _one_of(field, getattr(self, field), NORMS)
        if self.spatial_norm_zero_init and self.spatial_norm != "bn":
            raise ConfigError("attention.spatial_norm_zero_init: needs spatial_norm='bn' (there is no scale to zero)")
        _one_of("placement", self.placement, PLACEMENTS)
        for field in ("channel", "spatial", "spatial_norm_zero_init", "mlp_bias", "residual"):
            if not isinstance(getattr(self, field), bool):
                raise ConfigError(f"attention.{field}: must be true or false, got {getattr(self, field)!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AttentionDesign:
        """Build from a plain mapping (YAML, JSON), naming any unknown key in the error."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"attention.{unknown[0]}: unknown field; valid fields are {', '.join(sorted(known))}")
        return cls(**values)

    @property
    def family(self) -> str:
        """The paper the preset comes from: none, se, cbam or bam."""
        return PRESET_FAMILY[self.type]

    @property
    def is_identity(self) -> bool:
        """True when neither gate is on: the design adds nothing to the backbone."""
        return not (self.channel or self.spatial)

    def check_channels(self, channels: int) -> int:
        """The hidden width ``channels // reduction`` of the gates, or a one-line error if it is 0."""
        hidden = channels // self.reduction
        if hidden < 1:
            raise ConfigError(
                f"attention.reduction: {self.reduction} leaves no hidden channel for {channels} "
                f"input channels; use a reduction of at most {channels}"
            )
        return hidden

    def to_dict(self) -> dict[str, Any]:
        """Every resolved field, JSON-ready (tuples as lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(self).items()
        }
