"""``attnlab sweep SWEEP.yaml``: Optuna search (TPE by default) over config fields, pruning poor trials early.

Runs on the same workers and storage as ``attnlab ablate``; several launchers against one storage
share the search. The best trial's config is printed and saved as YAML.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from attnlab.cli.output import stdout_console

HELP = "Optuna hyper-parameter search with pruning over any config fields"


def build_parser() -> argparse.ArgumentParser:
    from attnlab.sweeps.cluster.slurm_options import add_slurm_arguments
    from attnlab.sweeps.local.options import add_launch_arguments
    from attnlab.sweeps.workers.sweep_file import EXAMPLE

    parser = argparse.ArgumentParser(
        prog="attnlab sweep",
        description=f"{HELP}.",
        epilog=f"The sweep file, every key:\n\n{EXAMPLE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sweep", type=Path, help="the sweep file (.yaml)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="where to save the best trial's config (default: runs/sweeps/NAME@PROFILE/best.yaml)",
    )
    add_launch_arguments(parser)
    add_slurm_arguments(parser)
    return parser


def main(argv: list[str]) -> int:
    from attnlab.sweeps.cluster.slurm_options import slurm_options
    from attnlab.sweeps.local.options import launch_options
    from attnlab.sweeps.sweep import run_sweep

    args = build_parser().parse_args(argv)
    return run_sweep(
        args.sweep, launch_options(args), output=args.output, console=stdout_console(), slurm=slurm_options(args)
    )
