"""Optuna features attnlab relies on that Optuna still marks experimental, used without its warning."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import optuna


@contextlib.contextmanager
def experimental_allowed() -> Iterator[None]:
    """Optuna's ExperimentalWarning silenced for the block.

    Heartbeats (experimental since Optuna 2.9), the stale-trial retry callback, metric names (3.2) and some
    samplers' options are used on purpose; their warning would be printed by every worker at every claim and
    tells a user nothing they can act on.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield
