"""``attnlab ablate STUDY``: train every cell (row x seed) of a study as trials of one Optuna study, resumably.

Every check (study, profile, --set, storage, devices, W&B) happens before anything trains. Run the
same command on several machines against one ``--storage postgresql://…`` and they share the cells.
"""

from __future__ import annotations

import argparse

from attnlab.ablations import parse_set_options

HELP = "run every cell (row x seed) of a study on Optuna storage, resumable"


def build_parser() -> argparse.ArgumentParser:
    from attnlab.sweeps.options import add_launch_arguments, add_study_arguments
    from attnlab.sweeps.slurm_options import add_slurm_arguments

    parser = argparse.ArgumentParser(
        prog="attnlab ablate",
        description=f"{HELP}. Each cell is one Optuna trial holding everything 'attnlab report' needs; running the "
        "command again trains only unfinished cells.",
    )
    add_study_arguments(parser)
    parser.add_argument(
        "--cell", metavar="ROW/seedN", help="train only this cell (what a W&B sweep agent runs), in one worker"
    )
    add_launch_arguments(parser)
    add_slurm_arguments(parser)
    return parser


def main(argv: list[str]) -> int:
    from attnlab.sweeps.ablation import run_ablation
    from attnlab.sweeps.options import launch_options
    from attnlab.sweeps.slurm_options import slurm_options

    args = build_parser().parse_args(argv)
    return run_ablation(
        args.study,
        args.profile,
        parse_set_options(args.overrides),
        launch_options(args),
        cell=args.cell,
        slurm=slurm_options(args),
    )
