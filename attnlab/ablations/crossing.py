"""Which axes of a factorial study cannot be crossed: one that means nothing, or is invalid, at a level of another.

A spatial kernel size changes nothing while the spatial gate is off, so a design crossing the two would count
identical runs as both levels of the kernel axis. Nothing here lists such pairs: each run's attention design is
built and probed. Two configs *mean the same* when they set the same keys outside ``model.attention``, and
their designs give the same network: both add nothing (``is_identity``), or they sit at the same sites
(``placement``) and their modules have the same parameters (names and shapes) and, with every parameter set to
the same values by name, give the same output on the same input. Inits are overwritten, so a gate that starts
at zero (GC's last layer) still counts as the layer it is. The designs are built from the study's own keys on
the ``type`` preset they name (``cbam`` if none): the profile's attention section is not read here.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from attnlab.ablations.overrides import layer_overrides
from attnlab.errors import ConfigError

ATTENTION_PREFIX = "model.attention."
_PROBE_CHANNELS = 32  # every hidden width of r ≤ 32 is ≥ 1, so any reduction an axis sets builds
_PROBE_SHAPE = (2, _PROBE_CHANNELS, 9, 7)  # non-square, so H and W strips differ
_WAY_OUT = "fix the other axis, or make a separate study"  # how every refusal here ends

Level = tuple[str, dict[str, Any]]  # an axis level: its label and its patch


@dataclass(frozen=True)
class _Meaning:
    """What a config trains, compared by :meth:`same`; ``error`` when its attention design is invalid."""

    other_keys: tuple[tuple[str, str], ...]
    placement: str | None  # None: the design adds nothing
    parameters: tuple[tuple[str, tuple[int, ...]], ...]
    output: Any  # torch.Tensor, or None without a module
    error: str | None

    def same(self, other: _Meaning) -> bool:
        if self.error or other.error:
            return False
        if (self.other_keys, self.placement, self.parameters) != (other.other_keys, other.placement, other.parameters):
            return False
        import torch

        return self.output is None or torch.equal(self.output, other.output)


def _meaning(overrides: Mapping[str, Any]) -> _Meaning:
    import torch

    from attnlab.modules import AttentionDesign, build_attention

    other = tuple(
        sorted((key, repr(value)) for key, value in overrides.items() if not key.startswith(ATTENTION_PREFIX))
    )
    fields = {
        key.removeprefix(ATTENTION_PREFIX): value
        for key, value in overrides.items()
        if key.startswith(ATTENTION_PREFIX)
    }
    try:
        design = AttentionDesign.from_mapping(fields)
        design.check_channels(_PROBE_CHANNELS)
    except (ConfigError, TypeError) as error:
        return _Meaning(other, None, (), None, str(error))
    if design.is_identity:
        return _Meaning(other, None, (), None, None)
    module = build_attention(design, _PROBE_CHANNELS).eval()
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
        probe = torch.randn(_PROBE_SHAPE, generator=torch.Generator().manual_seed(0))
        output = module(probe)
    shapes = tuple((name, tuple(tensor.shape)) for name, tensor in module.state_dict().items())
    return _Meaning(other, design.placement, shapes, output, None)


class _Probe:
    """Meanings of the design's points (each a level index per axis), built once each."""

    def __init__(self, base: Mapping[str, Any], axes: Mapping[str, Sequence[Level]]) -> None:
        self.base, self.axes, self.names = base, axes, list(axes)
        self.cache: dict[tuple[int, ...], _Meaning] = {}

    def __call__(self, point: tuple[int, ...]) -> _Meaning:
        if point not in self.cache:
            patches = [self.axes[axis][level][1] for axis, level in zip(self.names, point, strict=True)]
            self.cache[point] = _meaning(layer_overrides([self.base, *patches]))
        return self.cache[point]

    def label(self, axis: str, point: tuple[int, ...]) -> str:
        return self.axes[axis][point[self.names.index(axis)]][0]


def _flip(point: tuple[int, ...], index: int) -> tuple[int, ...]:
    return (*point[:index], 1 - point[index], *point[index + 1 :])


def check_crossings(
    base: Mapping[str, Any], axes: Mapping[str, Sequence[Level]], runs: Sequence[Sequence[int]]
) -> None:
    """Refuses, in one line naming both axes, a design in which an axis means nothing or is invalid at some run.

    ``axes`` maps each axis to its two levels (label, patch); ``runs`` are the design's points as level indices.
    For each run an axis that changes nothing there (or makes the run invalid) is explained by the other axis
    whose flip gives it meaning again (or makes the run valid).
    """
    probe = _Probe(base, axes)
    names = list(axes)
    for run in (tuple(run) for run in runs):
        if probe(run).error:
            _refuse_invalid(probe, run)
        for index, axis in enumerate(names):
            if not probe(run).same(probe(_flip(run, index))):
                continue
            for other_index, other in enumerate(names):
                moved = _flip(run, other_index)
                if other_index != index and not probe(moved).same(probe(_flip(moved, index))):
                    raise ConfigError(
                        f"axes: {axis} changes nothing when {other} is {probe.label(other, run)!r}, so {axis} and "
                        f"{other} cannot be crossed; {_WAY_OUT}"
                    )
            raise ConfigError(f"axes: {axis} changes nothing in the design's runs; drop it, or {_WAY_OUT}")


def _refuse_invalid(probe: _Probe, run: tuple[int, ...]) -> None:
    """An invalid run: the axis that sets the field at fault, and the one whose flip makes the run valid."""
    error = probe(run).error or ""
    names = list(probe.axes)
    rescuers = [axis for index, axis in enumerate(names) if not probe(_flip(run, index)).error]
    setters = [
        axis
        for index, axis in enumerate(names)
        if any(f"attention.{key.removeprefix(ATTENTION_PREFIX)}:" in error for key in probe.axes[axis][run[index]][1])
    ]
    candidates = [*setters, *(axis for axis in rescuers if axis not in setters)]
    axis = candidates[0] if candidates else None
    other = next((name for name in [*rescuers, *candidates] if name != axis), None)
    if axis is None or other is None:
        levels = ", ".join(f"{name}={probe.label(name, run)!r}" for name in names)
        raise ConfigError(f"axes: the run {levels} is not a valid design ({error}); {_WAY_OUT}")
    raise ConfigError(
        f"axes: {axis} cannot be crossed with {other}: at {other}={probe.label(other, run)!r} and "
        f"{axis}={probe.label(axis, run)!r}, {error}; {_WAY_OUT}"
    )
