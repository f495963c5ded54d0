"""``attnlab``: dispatches to one subcommand module, imported only when it runs (fast ``--help``).

Every subcommand module exposes ``HELP`` (one line) and ``main(argv) -> int``. A ``ConfigError``
raised anywhere before compute starts is printed as one line and exits with status 2.
"""

from __future__ import annotations

import importlib
import re
import sys

from attnlab.errors import ConfigError

SUBCOMMANDS: dict[str, str] = {
    "describe": "attnlab.cli.describe",
    "train": "attnlab.cli.train",
    "studies": "attnlab.cli.studies",
    "ablate": "attnlab.cli.ablate",
    "sweep": "attnlab.cli.sweep",
    "wandb-sweep": "attnlab.cli.wandb_sweep",
    "report": "attnlab.cli.report",
    "explain": "attnlab.cli.explain",
    "dashboard": "attnlab.cli.dashboard",
    "status": "attnlab.cli.status",
}

SUMMARIES: dict[str, str] = {
    "describe": "parameters and GMACs of a backbone + attention design, per module type",
    "train": "train one design on one dataset (LightningCLI: -c config.yaml, dotted overrides)",
    "studies": "list the built-in ablation studies and profiles",
    "ablate": "run every cell (row x seed) of a study on Optuna storage, resumable",
    "sweep": "Optuna hyper-parameter search with pruning over any config fields",
    "wandb-sweep": "write a W&B sweep file (grid over row x seed) for a study",
    "report": "ablation table over seeds with intervals, paired tests, plots and HTML",
    "explain": "Grad-CAM and attention-map galleries per row, with a localisation score per row",
    "dashboard": "serve optuna-dashboard on the study storage, on localhost",
    "status": "a study's cells by state (and with --slurm its SLURM jobs), from its storage",
}


def one_line(error: ConfigError) -> str:
    """The error's message; one re-raised from a DataLoader worker carries the worker's traceback above it."""
    lines = str(error).strip().splitlines()
    if len(lines) == 1:
        return lines[0]
    return re.sub(r"^[\w.]*ConfigError: ", "", lines[-1]) if lines else type(error).__name__


def _usage() -> str:
    lines = ["usage: attnlab <command> [options]", "", "commands:"]
    lines += [f"  {name:<12} {SUMMARIES[name]}" for name in SUBCOMMANDS]
    lines += ["", "Run 'attnlab <command> --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        from attnlab import __version__

        print(f"attnlab {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command not in SUBCOMMANDS:
        print(f"attnlab: error: unknown command {command!r}; valid: {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[command])
    try:
        return int(module.main(rest) or 0)
    except ConfigError as error:
        print(f"attnlab {command}: error: {one_line(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
