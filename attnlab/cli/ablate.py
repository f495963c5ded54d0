"""``attnlab ablate STUDY``: train every cell (row x seed) of a study as trials of one Optuna study, resumably.

Every check (study, profile, --set, storage, devices, W&B) happens before anything trains. Run the
same command on several machines against one ``--storage postgresql://…`` and they share the cells.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from attnlab.ablations import parse_set_options
from attnlab.cli.output import stdout_console
from attnlab.errors import ConfigError
from attnlab.option_ranges import MAX_SEEDS, int_in

if TYPE_CHECKING:
    from attnlab.sweeps.ablation import UntilDecided

HELP = "run every cell (row x seed) of a study on Optuna storage, resumable"


def build_parser() -> argparse.ArgumentParser:
    from attnlab.sweeps.cluster.slurm_options import add_slurm_arguments
    from attnlab.sweeps.local.options import add_launch_arguments, add_study_arguments

    parser = argparse.ArgumentParser(
        prog="attnlab ablate",
        description=f"{HELP}. Each cell is one Optuna trial holding everything 'attnlab report' needs; running the "
        "command again trains only unfinished cells.",
    )
    add_study_arguments(parser)
    parser.add_argument(
        "--cell", metavar="ROW/seedN", help="train only this cell (what a W&B sweep agent runs), in one worker"
    )
    decided = parser.add_argument_group("seeds until decided")
    decided.add_argument(
        "--until-decided",
        action="store_true",
        help="after the study's seeds, add seeds in rounds only to rows whose verdict is still open (neither a "
        "significant difference nor equivalence), until all are decided or reach --max-seeds; group-sequential "
        "rule (Lan-DeMets O'Brien-Fleming alpha spending), valid under this optional stopping",
    )
    decided.add_argument(
        "--max-seeds",
        type=int_in(1, MAX_SEEDS),
        metavar="N",
        help="seeds a row may reach (needed with --until-decided)",
    )
    decided.add_argument(
        "--margin",
        type=float,
        metavar="δ",
        help="equivalence margin in the metric's units: a row within ±δ of its baseline is decided as equivalent",
    )
    decided.add_argument(
        "--seeds-per-round",
        type=int_in(1, MAX_SEEDS),
        metavar="K",
        help="seeds added per round (default: the study's seed count)",
    )
    add_launch_arguments(parser)
    add_slurm_arguments(parser)
    return parser


def until_decided(args: argparse.Namespace) -> UntilDecided | None:
    """The --until-decided options, checked; None without the flag."""
    from attnlab.sweeps.ablation import UntilDecided

    if not args.until_decided:
        given = [
            flag
            for flag, value in (
                ("--max-seeds", args.max_seeds),
                ("--margin", args.margin),
                ("--seeds-per-round", args.seeds_per_round),
            )
            if value is not None
        ]
        if given:
            raise ConfigError(f"{', '.join(given)}: only with --until-decided")
        return None
    if args.max_seeds is None:
        raise ConfigError("--until-decided: needs --max-seeds N, the most seeds a row may reach")
    return UntilDecided(max_seeds=args.max_seeds, margin=args.margin, step=args.seeds_per_round)


def main(argv: list[str]) -> int:
    from attnlab.sweeps.ablation import run_ablation
    from attnlab.sweeps.cluster.slurm_options import slurm_options
    from attnlab.sweeps.local.options import launch_options

    args = build_parser().parse_args(argv)
    return run_ablation(
        args.study,
        args.profile,
        parse_set_options(args.overrides),
        launch_options(args),
        cell=args.cell,
        console=stdout_console(),
        until_decided=until_decided(args),
        slurm=slurm_options(args),
    )
