"""The ``--profile`` and ``--set`` options, defined once for every command that resolves a study's cells."""

from __future__ import annotations

import argparse

from attnlab.ablations.registry import DEFAULT_PROFILE


def add_profile_options(parser: argparse.ArgumentParser) -> None:
    """``--profile NAME|FILE`` and repeatable ``--set KEY=VALUE`` (read with ``parse_set_options``)."""
    parser.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        help="built-in profile (see 'attnlab studies') or a train-config .yaml the cells train under "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field in every cell, value read as YAML, e.g. --set trainer.max_epochs=3 "
        "(repeatable; wins over the study's rows)",
    )
