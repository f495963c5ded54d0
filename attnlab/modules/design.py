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

ChannelPool = Literal["avg", "max", "lp", "lse", "attention", "strip"]
SpatialPool = Literal["avg", "max", "conv1x1"]
Arrangement = Literal["channel_first", "spatial_first", "parallel"]
Combine = Literal["sum", "product", "max"]
SpatialBranch = Literal["pooled", "bottleneck"]
Norm = Literal["none", "bn"]
HiddenNorm = Literal["none", "bn", "ln"]
Placement = Literal["block", "stage"]
ChannelTransform = Literal["mlp", "conv1d", "energy"]
Merge = Literal["after", "before"]
Activation = Literal["relu", "hardswish"]
HiddenRounding = Literal["floor", "nearest"]
Apply = Literal["multiply", "add"]

CHANNEL_POOLS: tuple[str, ...] = ("avg", "max", "lp", "lse", "attention", "strip")
SPATIAL_POOLS: tuple[str, ...] = ("avg", "max", "conv1x1")
ARRANGEMENTS: tuple[str, ...] = ("channel_first", "spatial_first", "parallel")
COMBINES: tuple[str, ...] = ("sum", "product", "max")
SPATIAL_BRANCHES: tuple[str, ...] = ("pooled", "bottleneck")
NORMS: tuple[str, ...] = ("none", "bn")
PLACEMENTS: tuple[str, ...] = ("block", "stage")
HIDDEN_NORMS: tuple[str, ...] = ("none", "bn", "ln")
CHANNEL_TRANSFORMS: tuple[str, ...] = ("mlp", "conv1d", "energy")
MERGES: tuple[str, ...] = ("after", "before")
ACTIVATIONS: tuple[str, ...] = ("relu", "hardswish")
HIDDEN_ROUNDINGS: tuple[str, ...] = ("floor", "nearest")
APPLIES: tuple[str, ...] = ("multiply", "add")

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
    "channel_transform": "mlp",
    "channel_kernel_size": "adaptive",  # ECA's rule; None wherever channel_transform is not conv1d
    "channel_merge": "after",
    "spatial_merge": "after",
    "mlp_activation": "relu",
    # None: a bias exactly when no BN follows (the paper's conv; a BN's shift replaces it).
    "spatial_conv_bias": None,
    "hidden_rounding": "floor",
    "hidden_divisor": 1,
    "apply": "multiply",
    "energy_lambda": 1e-4,  # SimAM's lambda; None wherever channel_transform is not energy
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

_GC_PAPER: dict[str, Any] = {
    **_CBAM_PAPER,
    "spatial": False,
    "channel_pool": ("attention",),
    "mlp_hidden_norm": "ln",
    "apply": "add",
}

_COORD_PAPER: dict[str, Any] = {
    **_CBAM_PAPER,
    "spatial": False,
    "channel_pool": ("strip",),
    "mlp_hidden_norm": "bn",
    "mlp_activation": "hardswish",
    "reduction": 32,
    "hidden_divisor": 8,
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
    # timm/layers/cbam.py: 1x1-conv MLP without bias, conv + BN with the usual scale of 1, timm's hidden rounding.
    "cbam-timm": {**_CBAM_PAPER, "spatial_norm": "bn", "mlp_bias": False, "hidden_rounding": "nearest"},
    # timm's LightCbamModule: both gates average their pooled descriptors before the MLP / the 1-input conv.
    "cbam-light": {
        **_CBAM_PAPER,
        "spatial_norm": "bn",
        "mlp_bias": False,
        "hidden_rounding": "nearest",
        "channel_merge": "before",
        "spatial_merge": "before",
    },
    # The CIFAR/VGG CBAM in circulation: out = CBAM(x) + x, [max; avg], biased MLP, 7x7 conv without bias or norm.
    "cbam-cifar": {
        **_CBAM_PAPER,
        "spatial_pool": ("max", "avg"),
        "spatial_conv_bias": False,
        "reduction": 4,
        "residual": True,
    },
    "bam": _BAM_PAPER,
    # Released BAM: 1 + sigmoid(Mc * Ms), no final BN on either branch. Not copied (see PRESET_SOURCES): its
    # avg_pool2d(x, H, stride=H) bug on non-square maps, and biases before a BN (which cancels them).
    "bam-official": {
        **_BAM_PAPER,
        "combine": "product",
        "channel_norm": "none",
        "spatial_norm": "none",
    },
    # ECA-Net (Wang et al. 2020) as timm's EcaModule: a 1-D conv across the avg-pooled channels, adaptive k.
    "eca": {
        **_CBAM_PAPER,
        "spatial": False,
        "channel_pool": ("avg",),
        "channel_transform": "conv1d",
        "channel_kernel_size": "adaptive",
    },
    # GCNet (Cao et al. 2019): attention pooling, bottleneck with LayerNorm, the result added to the input.
    "gc": _GC_PAPER,
    # timm's GlobalContext defaults: the same context, but sigmoid-gated and multiplied (fuse_scale), r = 8.
    "gc-timm": {**_GC_PAPER, "apply": "multiply", "reduction": 8, "hidden_rounding": "nearest"},
    # Coordinate attention (Hou et al. 2021), the authors' code: mip = max(8, C // 32), biased convs, h-swish.
    "coord": _COORD_PAPER,
    # timm's CoordAttn defaults: hidden make_divisible(C / 24, 8), convs without bias.
    "coord-timm": {**_COORD_PAPER, "reduction": 24, "hidden_rounding": "nearest", "mlp_bias": False},
    # SimAM (Yang et al. 2021): a parameter-free energy per activation, lambda = 1e-4.
    "simam": {
        **_CBAM_PAPER,
        "spatial": False,
        "channel_pool": ("avg",),
        "channel_transform": "energy",
        "energy_lambda": 1e-4,
    },
}

PRESET_FAMILY: dict[str, str] = {
    "none": "none",
    "se": "se",
    "cbam": "cbam",
    "cbam-official": "cbam",
    "cbam-timm": "cbam",
    "cbam-light": "cbam",
    "cbam-cifar": "cbam",
    "bam": "bam",
    "bam-official": "bam",
    "eca": "eca",
    "gc": "gc",
    "gc-timm": "gc",
    "coord": "coord",
    "coord-timm": "coord",
    "simam": "simam",
}


# Where each preset comes from, and what a user porting weights from that source must know (docs/design-space.md).
PRESET_SOURCES: dict[str, str] = {
    "none": "the plain backbone",
    "se": "SE (Hu et al. 2018) as the CBAM paper builds it: avg-pooled channel gate, biased MLP",
    "cbam": "CBAM paper (Woo et al. 2018): avg & max channel gate, [avg; max] 7x7 conv with bias, no norm",
    "cbam-official": "Jongchan/attention-module: [max; mean], conv without bias + BN(momentum 0.01, scale 0)",
    "cbam-timm": "timm CbamModule: MLP as 1x1 convs without bias, conv + BN (scale 1), hidden make_divisible(C/16, 1)",
    "cbam-light": "timm LightCbamModule: MLP once on 0.5*avg + 0.5*max, 1-input conv + BN on 0.5*avg + 0.5*max",
    "cbam-cifar": "CIFAR/VGG CBAM in the wild: out = CBAM(x) + x, [max; avg], biased MLP, 7x7 conv no bias/norm, r=4",
    "bam": "BAM paper (Park et al. 2018): F + F * sigmoid(BN(MLP(avg)) + BN(dilated bottleneck)), after stages 1-3",
    "bam-official": (
        "Jongchan/attention-module BAM: 1 + sigmoid(Mc * Ms), no final BNs. Not copied: its avg_pool2d(x, H, "
        "stride=H) averages only the first HxH window of a non-square map (we average the whole map), and its "
        "convs/Linears before a BN carry biases the BN cancels (ours have none: same function, fewer parameters)"
    ),
    "eca": "timm EcaModule (ECA-Net, Wang et al. 2020): k = odd(|log2(C) + 1| / 2), at least 3; conv1d without bias",
    "gc": "GCNet (Cao et al. 2019): softmax attention pooling, 1x1 C->C/16 + LayerNorm + ReLU + 1x1, added to x",
    "gc-timm": "timm GlobalContext defaults: the GC context, sigmoid-gated and multiplied (fuse_scale), r = 8",
    "coord": "Coordinate attention (Hou et al. 2021) code: H and W strips, mip = max(8, C // 32), BN, h-swish",
    "coord-timm": "timm CoordAttn defaults: mip = make_divisible(C / 24, 8), convs without bias, BN, hardswish",
    "simam": "SimAM (Yang et al. 2021): sigmoid((x - mu)^2 / (4 (var + 1e-4)) + 0.5), no parameters",
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


MAX_KERNEL_SIZE = 63  # the spatial gate's conv; CBAM uses 7, and no stage's feature map is wider than 56


def _positive_int(field: str, value: Any) -> None:
    positive_int(f"attention.{field}", value)


@dataclass(frozen=True)
class AttentionDesign:
    """One attention design; fields left ``None`` take the value of the ``type`` preset.

    ``type`` picks a preset (``PRESETS``; where each comes from and how it differs from its source is in
    ``PRESET_SOURCES`` and docs/design-space.md). The axes beyond the CBAM/BAM papers are new values of the same
    three questions: what is pooled (``channel_pool``: ``attention`` = GC's softmax pooling, ``strip`` = coordinate
    attention's H and W strips), how the descriptor is transformed (``channel_transform``: ``mlp``, ``conv1d`` =
    ECA, ``energy`` = SimAM; ``channel_merge``/``spatial_merge``: pooled descriptors summed after the transform or
    averaged before it) and how the map is applied (``apply``: ``multiply`` by its sigmoid or ``add``).
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
    mlp_hidden_norm: HiddenNorm | None = None
    spatial_norm: Norm | None = None
    spatial_norm_zero_init: bool | None = None
    mlp_bias: bool | None = None
    placement: Placement | None = None
    residual: bool | None = None
    channel_transform: ChannelTransform | None = None
    channel_kernel_size: int | Literal["adaptive"] | None = None
    channel_merge: Merge | None = None
    spatial_merge: Merge | None = None
    mlp_activation: Activation | None = None
    spatial_conv_bias: bool | None = None
    hidden_rounding: HiddenRounding | None = None
    hidden_divisor: int | None = None
    apply: Apply | None = None
    energy_lambda: float | None = None

    def __post_init__(self) -> None:
        _one_of("type", self.type, tuple(PRESETS))
        preset = PRESETS[self.type]
        was_set = {field.name for field in dataclasses.fields(self) if getattr(self, field.name) is not None}
        for field in dataclasses.fields(self):
            if field.name != "type" and getattr(self, field.name) is None:
                object.__setattr__(self, field.name, preset[field.name])
        self._validate(was_set)

    def _only_when(self, field: str, applies: bool, condition: str, was_set: set[str]) -> bool:
        """Whether ``field`` applies; set to None where it does not (so the design round-trips), an error if set."""
        if applies:
            return True
        if field in was_set:
            raise ConfigError(f"attention.{field}: only applies when {condition}")
        object.__setattr__(self, field, None)
        return False

    def _validate(self, was_set: set[str]) -> None:
        _one_of("arrangement", self.arrangement, ARRANGEMENTS)
        parallel = self.arrangement == "parallel"
        if self._only_when(
            "combine", parallel, f"arrangement is 'parallel' (got arrangement={self.arrangement!r})", was_set
        ):
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
        if self.kernel_size % 2 == 0 or self.kernel_size > MAX_KERNEL_SIZE:
            raise ConfigError(
                f"attention.kernel_size: must be a positive odd integer up to {MAX_KERNEL_SIZE}, got {self.kernel_size}"
            )
        for field in ("channel_norm", "spatial_norm"):
            _one_of(field, getattr(self, field), NORMS)
        _one_of("mlp_hidden_norm", self.mlp_hidden_norm, HIDDEN_NORMS)
        if self.spatial_norm_zero_init and self.spatial_norm != "bn":
            raise ConfigError("attention.spatial_norm_zero_init: needs spatial_norm='bn' (there is no scale to zero)")
        _one_of("placement", self.placement, PLACEMENTS)
        if self.spatial_conv_bias is None:
            object.__setattr__(self, "spatial_conv_bias", self.spatial_norm == "none")
        for field in ("channel", "spatial", "spatial_norm_zero_init", "mlp_bias", "residual", "spatial_conv_bias"):
            if not isinstance(getattr(self, field), bool):
                raise ConfigError(f"attention.{field}: must be true or false, got {getattr(self, field)!r}")
        self._validate_family_axes(was_set)

    def _validate_family_axes(self, was_set: set[str]) -> None:
        """The axes ECA, GC, coordinate attention, SimAM and timm's light CBAM added, and how they compose."""
        for field, valid in (
            ("channel_transform", CHANNEL_TRANSFORMS),
            ("channel_merge", MERGES),
            ("spatial_merge", MERGES),
            ("mlp_activation", ACTIVATIONS),
            ("hidden_rounding", HIDDEN_ROUNDINGS),
            ("apply", APPLIES),
        ):
            _one_of(field, getattr(self, field), valid)
        _positive_int("hidden_divisor", self.hidden_divisor)
        transform, pools = self.channel_transform, self.channel_pool
        if self._only_when("channel_kernel_size", transform == "conv1d", "channel_transform is 'conv1d'", was_set):
            kernel = self.channel_kernel_size
            if kernel != "adaptive" and (
                isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0
            ):
                raise ConfigError(
                    f"attention.channel_kernel_size: must be 'adaptive' (ECA's rule) or a positive odd integer, "
                    f"got {kernel!r}"
                )
        if self._only_when("energy_lambda", transform == "energy", "channel_transform is 'energy'", was_set):
            energy_lambda = self.energy_lambda
            if isinstance(energy_lambda, bool) or not isinstance(energy_lambda, int | float) or not energy_lambda > 0:
                raise ConfigError(f"attention.energy_lambda: must be a number > 0 (SimAM: 1e-4), got {energy_lambda!r}")
            if pools != ("avg",):
                raise ConfigError(
                    f"attention.channel_pool: the 'energy' transform reads each channel's mean and variance; "
                    f"use [avg], got {list(pools)}"
                )
        if "strip" in pools:
            self._validate_strip_pool()
        if self.mlp_hidden_norm == "ln" and transform != "mlp":
            raise ConfigError(f"attention.mlp_hidden_norm: 'ln' needs channel_transform='mlp' (got {transform!r})")
        if self.channel_norm == "bn" and (transform != "mlp" or "strip" in pools):
            raise ConfigError("attention.channel_norm: 'bn' normalises the MLP's output; use channel_transform='mlp'")
        if self.apply == "add" and self.arrangement == "parallel":
            raise ConfigError("attention.apply: 'add' needs a sequential arrangement (channel_first or spatial_first)")

    def _validate_strip_pool(self) -> None:
        """Coordinate attention: two direction-aware maps from H and W strips, each gated by its own sigmoid."""
        if len(self.channel_pool) > 1:
            raise ConfigError(
                "attention.channel_pool: 'strip' (coordinate attention) stands alone; use [strip] or a subset of "
                "avg, max, lp, lse, attention"
            )
        if self.channel_transform != "mlp":
            raise ConfigError("attention.channel_transform: 'strip' pooling needs 'mlp' (a shared 1x1 conv, two heads)")
        if self.mlp_hidden_norm == "ln":
            raise ConfigError("attention.mlp_hidden_norm: 'strip' pooling takes 'none' or 'bn'")
        if self.arrangement == "parallel":
            raise ConfigError(
                "attention.arrangement: 'strip' pooling gives two maps with a sigmoid each, nothing to combine "
                "before one sigmoid; use channel_first or spatial_first"
            )
        if self.apply != "multiply":
            raise ConfigError("attention.apply: 'strip' pooling gates by multiplying; use 'multiply'")

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
        """The hidden width of the gates for ``channels`` inputs, or a one-line error if it is 0.

        ``floor``: ``channels // reduction``, at least ``hidden_divisor`` (coordinate attention's ``max(8, C // 32)``).
        ``nearest``: timm's ``make_divisible(channels / reduction, hidden_divisor, round_limit=0)``, the nearest
        multiple of the divisor (halves up), at least the divisor: C = 40, r = 16 gives 3 where ``floor`` gives 2.
        """
        if self.hidden_rounding == "nearest":
            divisor = self.hidden_divisor
            return max(divisor, int(channels / self.reduction + divisor / 2) // divisor * divisor)
        hidden = channels // self.reduction
        if self.hidden_divisor > 1:
            hidden = max(self.hidden_divisor, hidden)
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
