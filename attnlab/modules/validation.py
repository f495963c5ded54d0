"""The two checks every config object here needs, each failing with one line that names the field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attnlab.errors import ConfigError


def positive_int(name: str, value: Any, meaning: str = "") -> int:
    """``value`` if it is an int >= 1 (not a bool); ``meaning`` says what the number is, for the message."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}: must be a positive integer{meaning}, got {value!r}")
    return value


def one_of(name: str, value: Any, valid: Sequence[str]) -> None:
    """Fail unless ``value`` is one of ``valid``, listing them."""
    if value not in valid:
        raise ConfigError(f"{name}: {value!r} is not valid; use one of {', '.join(valid)}")
