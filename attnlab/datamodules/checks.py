"""Argument checks shared by the datamodules: each failure is a one-line ``ConfigError`` naming the field.

They run in ``__init__``, so a bad value stops ``attnlab train`` before any data is read or generated.
Field names are the dotted override addresses (``data.batch_size``), the way users write them.
"""

from __future__ import annotations

from attnlab.errors import ConfigError


def require_at_least(field: str, value: int | float, minimum: int | float) -> None:
    """Reject a count or size below its smallest usable value."""
    if value < minimum:
        raise ConfigError(f"data.{field}: {value} is too small; valid: >= {minimum}")


def require_fraction(field: str, value: float) -> None:
    """Reject a share of a split that would leave one side of it empty."""
    if not 0.0 < value < 1.0:
        raise ConfigError(f"data.{field}: {value} is not a fraction; valid: 0 < {field} < 1")
