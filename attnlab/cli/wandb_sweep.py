"""``attnlab wandb-sweep STUDY -o sweep.yaml``: a W&B sweep whose runs are the study's cells, one per agent run.

Then ``wandb sweep sweep.yaml`` registers it, and one agent per GPU
(``CUDA_VISIBLE_DEVICES=i wandb agent ENTITY/PROJECT/SWEEP_ID``) trains the cells.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from attnlab.ablations import load_study, parse_set_options, validate_study
from attnlab.errors import ConfigError

HELP = "write a W&B sweep file (grid over row x seed) for a study"


def build_parser() -> argparse.ArgumentParser:
    from attnlab.sweeps.local.options import add_study_arguments
    from attnlab.sweeps.store.storage import DEFAULT_STORAGE

    parser = argparse.ArgumentParser(
        prog="attnlab wandb-sweep",
        description=f"{HELP}. Each W&B run is 'attnlab ablate STUDY --cell ROW/seedN --wandb': exactly one cell, "
        "recorded in the Optuna storage too, so a cell finished either way is not trained again.",
    )
    add_study_arguments(parser)
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("sweep.yaml"), help="sweep file (default: %(default)s)"
    )
    parser.add_argument(
        "--storage", default=DEFAULT_STORAGE, help="Optuna storage the runs record into (default: %(default)s)"
    )
    parser.add_argument("--project", help="W&B project of the sweep (default: wandb's own default)")
    return parser


def main(argv: list[str]) -> int:
    from attnlab.sweeps.store.storage import open_storage
    from attnlab.sweeps.wandb_sweep import sweep_config

    args = build_parser().parse_args(argv)
    if args.output.suffix not in (".yaml", ".yml"):
        raise ConfigError(f"--output {args.output}: expected a .yaml file (what 'wandb sweep' reads)")
    study = load_study(args.study)
    overrides = parse_set_options(args.overrides)
    validate_study(study, args.profile, overrides)
    open_storage(args.storage)  # a bad URL fails here, not in every agent run
    config = sweep_config(study, args.study, args.profile, overrides, storage=args.storage, project=args.project)
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    except OSError as error:
        reason = f"{error.filename}: {error.strerror}" if error.filename and error.strerror else str(error)
        message = f"--output {args.output}: cannot be written ({reason}); valid: a writable .yaml path"
        raise ConfigError(message) from None
    cells = len(config["parameters"]["cell"]["values"])
    print(f"wrote {args.output}: a grid over the {cells} cells of {study.name} under {args.profile}")
    print(f"next: wandb sweep {args.output}   then per GPU: CUDA_VISIBLE_DEVICES=i wandb agent ENTITY/PROJECT/SWEEP_ID")
    return 0
