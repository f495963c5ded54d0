"""``attnlab report STUDY``: the study's table over seeds, from Optuna, W&B (online or run files) or CSV logs.

Reads only what runs stored (nothing is trained), so it works on a study that is still running;
such a report says PARTIAL with the count of complete cells.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attnlab.ablations import DEFAULT_PROFILE
from attnlab.cli.output import add_format_option, print_json
from attnlab.errors import ConfigError
from attnlab.reports.spec import DEFAULT_METRIC, LoadedStudy

HELP = "ablation table over seeds with intervals, paired tests, plots and HTML"
DEFAULT_REPORT_ROOT = Path("runs/reports")


def study_name(study: str) -> str:
    """The study's name: ``STUDY`` as given, or the name inside a study ``.yaml`` file (as ``ablate`` took it);
    either way a plain name, as it names the output folder runs/reports/STUDY."""

    if Path(study).suffix not in (".yaml", ".yml"):
        from attnlab.safe_paths import check_path_name

        try:
            return check_path_name("study", study)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    from attnlab.ablations import load_study

    try:
        return load_study(study).name
    except ConfigError as error:  # argparse then prints it as the study argument's one-line error
        raise argparse.ArgumentTypeError(str(error)) from None


def checked_profile(profile: str) -> str:
    """The profile as given: a profile file is checked as ``ablate`` checks it (readable, a train config, bounded);
    a plain name is a built-in or the label a study ran under (``tiny`` for ``tiny.yaml``), found in the storage."""
    from attnlab.ablations import profile_path
    from attnlab.safe_paths import check_path_name

    try:
        if Path(profile).suffix in (".yaml", ".yml"):
            profile_path(profile)
        else:
            check_path_name("profile", profile)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return profile


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """The study, where its cells are read from, and the output folder (shared with ``attnlab explain``)."""
    parser.add_argument(
        "study", type=study_name, help="study name or the study .yaml file (the W&B group; a label for --logs)"
    )
    parser.add_argument(
        "--profile",
        type=checked_profile,
        default=DEFAULT_PROFILE,
        help="profile the study ran under (default: %(default)s)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--storage", metavar="URL", help="Optuna storage the study ran on (default: the sweeps')")
    source.add_argument("--wandb", metavar="ENTITY/PROJECT", help="read the study's runs through the W&B public API")
    source.add_argument("--wandb-dir", metavar="DIR", type=Path, help="read W&B run files (offline runs) under DIR")
    source.add_argument("--logs", metavar="DIR", type=Path, help="read attnlab train CSV logs under DIR")
    parser.add_argument("-o", "--output", metavar="DIR", type=Path, help="output folder (default: runs/reports/STUDY)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attnlab report",
        description=f"{HELP}. Writes report.md, table.tex (booktabs), summary.csv, cells.csv, summary.json and "
        "a self-contained report.html, and prints the Markdown table (--format json: the aggregated rows). A factorial "
        "study adds its Effects table (also effects.tex and effects.csv, and 'effects' in the JSON). After "
        "'attnlab explain' the table has its localisation columns and the HTML its galleries.",
    )
    add_source_options(parser)
    parser.add_argument("--baseline", metavar="ROW", help="compare every row with ROW (default: the study's baseline)")
    parser.add_argument("--metric", help="metric to compare (default: the study's, else test/top1_err)")
    parser.add_argument(
        "--correction",
        choices=("holm", "none"),
        default="holm",
        help="multiple-comparison correction of the verdicts across rows (default: %(default)s)",
    )
    parser.add_argument(
        "--effect",
        type=float,
        metavar="Δ",
        help="also show how many seeds would detect a true difference of Δ (metric units) with 80%% power",
    )
    parser.add_argument(
        "--margin",
        type=float,
        metavar="δ",
        help="equivalence margin: a row whose 90%% paired interval lies within ±δ is 'equivalent within δ' (TOST)",
    )
    add_format_option(parser)
    return parser


def load(args: argparse.Namespace, configs: bool = True) -> LoadedStudy:
    """The study's cells from the source the options name (an Optuna storage reads no resolved configs unless
    ``configs``: the report's tables never need them, ``attnlab explain`` finds checkpoints through them)."""
    if args.wandb is not None:
        from attnlab.reports.sources.wandb_runs import load_from_wandb_api

        return load_from_wandb_api(args.wandb, args.study, args.profile)
    if args.wandb_dir is not None:
        from attnlab.reports.sources.wandb_log import load_from_wandb_dir

        return load_from_wandb_dir(args.wandb_dir, args.study, args.profile)
    if args.logs is not None:
        from attnlab.reports.sources.lightning_csv import load_from_csv_logs

        return load_from_csv_logs(args.logs, args.study, getattr(args, "metric", None) or DEFAULT_METRIC)
    from attnlab.reports.sources.optuna_trials import load_from_optuna

    return load_from_optuna(args.study, args.profile, args.storage, configs)


def output_folder(args: argparse.Namespace) -> Path:
    """``--output``, else runs/reports/STUDY: never outside runs/reports for a label (``--logs ../x``)."""
    from attnlab.safe_paths import path_inside

    return args.output or path_inside(DEFAULT_REPORT_ROOT, args.study, "study")


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from attnlab.reports.explain_files import EXPLAIN_FOLDER, read_explanation
    from attnlab.reports.report import build_report, json_payload, terminal_text, write_report

    loaded = load(args, configs=False)
    out_dir = output_folder(args)
    explanation = read_explanation(out_dir / EXPLAIN_FOLDER, loaded.spec.name, loaded.spec.profile)
    report = build_report(
        loaded,
        baseline=args.baseline,
        metric=args.metric,
        correction=args.correction,
        effect=args.effect,
        margin=args.margin,
        explanation=explanation,
    )
    paths = write_report(report, out_dir)
    if args.wandb is None and args.wandb_dir is None and args.logs is None:  # read from Optuna: note and artifacts
        from attnlab.reports.dashboard_publish import publish_to_optuna

        publish_to_optuna(report, args.study, args.profile, args.storage, out_dir)
    if args.format == "json":
        print_json(json_payload(report))
    else:
        print(terminal_text(report))
    print(f"wrote {', '.join(path.name for path in paths)} to {out_dir}", file=sys.stderr)
    return 0
