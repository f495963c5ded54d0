"""``attnlab status STUDY``: the study's cells by state from its storage and, with ``--slurm``, its SLURM jobs.

What a user checks from a login node while the workers run elsewhere. Nothing is trained or changed.
A table is printed whole in a pipe (no wrapping); ``--format json`` gives the same for scripts.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from attnlab.cli.output import add_format_option, print_json, print_table, stdout_console

HELP = "a study's cells by state (and with --slurm its SLURM jobs), from its storage"


def build_parser() -> argparse.ArgumentParser:
    from attnlab.ablations.registry import DEFAULT_PROFILE
    from attnlab.option_ranges import int_in
    from attnlab.sweeps.local.options import MAX_RETRIES, add_storage_timeout_argument
    from attnlab.sweeps.store.storage import DEFAULT_STORAGE
    from attnlab.sweeps.workers.worker_spec import DEFAULT_MAX_RETRIES

    parser = argparse.ArgumentParser(prog="attnlab status", description=f"{HELP}.")
    parser.add_argument("study", help="a study (built-in name or .yaml file, with --profile), or STUDY@PROFILE")
    parser.add_argument(
        "--profile", default=DEFAULT_PROFILE, help="profile the study runs under (default: %(default)s)"
    )
    parser.add_argument("--storage", default=DEFAULT_STORAGE, help="Optuna storage of the study (default: %(default)s)")
    parser.add_argument("--slurm", action="store_true", help="also the study's SLURM jobs and their states (sacct)")
    parser.add_argument(
        "--max-retries",
        type=int_in(0, MAX_RETRIES),
        default=DEFAULT_MAX_RETRIES,
        help="retries the workers allow a lost cell, to tell lost from failed (default: %(default)s)",
    )
    add_storage_timeout_argument(parser)
    add_format_option(parser)
    return parser


def _study_name(study: str, profile: str) -> str:
    """The Optuna study's name; the profile is checked as ``ablate`` checks it (a built-in or a readable file)."""
    from attnlab.ablations import load_study, profile_path
    from attnlab.sweeps.store.storage import optuna_study_name

    if "@" in study:
        return study
    profile_path(profile)
    return optuna_study_name(load_study(study).name, profile)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """A rich table of plain strings (printed whole in a pipe by :func:`print_table`)."""
    shown = Table(*header)
    for row in rows:
        shown.add_row(*(Text(value) for value in row))  # reasons may hold brackets: never markup
    return shown


def main(argv: list[str]) -> int:
    from attnlab.sweeps.cluster.slurm import slurm_tasks
    from attnlab.sweeps.study_status import study_status

    args = build_parser().parse_args(argv)
    status = study_status(args.storage, _study_name(args.study, args.profile), args.max_retries, args.storage_timeout)
    tasks = slurm_tasks(status.slurm_jobs) if args.slurm else []
    if args.format == "json":
        payload = status.to_dict() | ({"slurm_tasks": [task.to_dict() for task in tasks]} if args.slurm else {})
        print_json(payload)
        return 0
    console = stdout_console()
    counts = ", ".join(f"{count} {state}" for state, count in status.counts().items() if count)
    noun = "cells" if status.kind == "cells" else "trials"
    console.print(f"{status.study}: {len(status.cells)} {noun}: {counts or 'none'}", markup=False)
    rows = [
        [cell.cell, cell.state, str(cell.attempts), cell.worker or "-", cell.slurm_job or "-", cell.detail or "-"]
        for cell in status.cells
    ]
    print_table(console, table(["CELL", "STATE", "ATTEMPTS", "WORKER", "SLURM JOB", "DETAIL"], rows))
    if args.slurm:
        shown = ", ".join(status.slurm_jobs) or "none submitted with --slurm"
        console.print(f"\nSLURM jobs: {shown}", markup=False)
        task_rows = [[t.job, t.state, t.elapsed, t.nodes, t.reason, str(t.requeues)] for t in tasks]
        if task_rows:
            print_table(console, table(["JOB", "STATE", "ELAPSED", "NODES", "REASON", "REQUEUES"], task_rows))
    return 0
