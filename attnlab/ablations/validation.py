"""Checks every row of a study against the train config of a profile, before any cell trains.

One validation per row (the seed changes no field's validity), through the same parser and
checks as ``attnlab train``, on the meta device and without touching data: a study that passes
here fails later only for reasons of data or compute, not of configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from attnlab.ablations.definition import StudyDefinition
from attnlab.ablations.overrides import SEED_KEY, flatten_overrides, layer_overrides
from attnlab.ablations.registry import DEFAULT_PROFILE, profile_path
from attnlab.errors import ConfigError


def _train_checker(profile: str | Path) -> Callable[[Mapping[str, Any]], dict[str, Any] | str]:
    """A function: overrides -> their resolved train config on the profile, or the error message."""
    # Imported here: the training stack (Lightning, torch) takes seconds to import, and reading or
    # listing studies needs none of it.
    from attnlab.training import overrides_to_args, validate_train_args

    config = ["--config", str(profile_path(profile))]

    def resolve(overrides: Mapping[str, Any]) -> dict[str, Any] | str:
        try:
            return validate_train_args(config + overrides_to_args(overrides))
        except ConfigError as error:
            return str(error)

    return resolve


def validate_study(
    study: StudyDefinition, profile: str | Path = DEFAULT_PROFILE, overrides: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Each row's resolved train config (at the first seed), or a one-line ``ConfigError`` naming the file,
    the row (or base, or --set) and the field at fault."""
    resolve = _train_checker(profile)
    extra = flatten_overrides(overrides, "--set")
    seed = {SEED_KEY: study.seeds[0]}
    origin = study.source or study.name
    resolved: dict[str, dict[str, Any]] = {}
    for cell in study.cells(overrides):
        if cell.seed != study.seeds[0]:
            continue
        outcome = resolve(cell.overrides)
        if isinstance(outcome, dict):
            resolved[cell.row] = outcome
            continue
        # Blame the least specific layer that fails with the same message: a bad profile, --set or
        # base field is reported once, as such, not as a fault of whichever row came first.
        suspects = {f"profile {str(profile)!r}": [seed]}
        if extra:
            suspects["--set"] = [extra, seed]
        if study.base:
            suspects["base"] = [study.base, extra, seed]
        culprit = next(
            (name for name, layers in suspects.items() if resolve(layer_overrides(layers)) == outcome),
            f"row {cell.row!r}",
        )
        raise ConfigError(f"{origin}: {culprit}: {outcome}")
    return resolved
