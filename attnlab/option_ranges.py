"""Numeric command-line options with their range, checked by argparse before anything is written."""

from __future__ import annotations

import argparse
from collections.abc import Callable

MAX_SEEDS = 1000  # seeds a row may reach with --until-decided: sequential planning grows with its square


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[low, high]`` (no upper bound when ``high`` is None); argparse
    prints the message as the option's one-line error and exits 2."""
    valid = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {valid}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range; use {valid}")
        return value

    parse.__name__ = "integer"  # what argparse names the type in its messages
    return parse
