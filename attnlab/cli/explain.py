"""``attnlab explain STUDY``: Grad-CAM and spatial-gate galleries of every row on the same images, and how well
each row's Grad-CAM points at the object (where the data has boxes), aggregated over seeds.

Reads the best checkpoint of every complete cell (nothing is trained); ``attnlab report`` then shows the
localisation columns in its table and the galleries in report.html.
"""

from __future__ import annotations

import argparse
import json
import sys

from attnlab.cli.output import add_format_option
from attnlab.cli.report import add_source_options, load, output_folder
from attnlab.option_ranges import int_in

MAX_IMAGES = 256  # a gallery of more is unreadable, and each image is a Grad-CAM pass per row and seed
HELP = "Grad-CAM and attention-map galleries per row, with a localisation score per row"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attnlab explain",
        description=f"{HELP}. Writes gradcam-LAYER.png, gates.png, explain.json and (for data with object boxes) "
        "localisation.csv into OUTPUT/explain, and prints the localisation table.",
    )
    add_source_options(parser)
    parser.add_argument(
        "--images", type=int_in(1, MAX_IMAGES), default=8, help="images shown and scored (default: %(default)s)"
    )
    parser.add_argument(
        "--split", choices=("train", "val", "test"), default="test", help="split the images come from (default: test)"
    )
    parser.add_argument("--seed", type=int_in(0), default=0, help="seed that picks the images (default: %(default)s)")
    parser.add_argument(
        "--layer",
        action="append",
        default=[],
        metavar="NAME",
        help="also Grad-CAM at this part of the network, e.g. layer3 or layer3.1 (repeatable; the last stage always)",
    )
    add_format_option(parser)  # as report's: table (the localisation table) or json (every per-image number)
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from attnlab.reports.explain import ExplainSettings, explain_study, json_payload, write_explanation
    from attnlab.reports.explain_files import EXPLAIN_FOLDER, read_explanation
    from attnlab.reports.report import build_report
    from attnlab.reports.tables import localisation_table, to_markdown

    loaded = load(args)
    settings = ExplainSettings(images=args.images, split=args.split, layers=tuple(args.layer), seed=args.seed)
    explanation = explain_study(loaded, settings)
    out_dir = output_folder(args) / EXPLAIN_FOLDER
    paths = write_explanation(explanation, out_dir)
    report = build_report(loaded, explanation=read_explanation(out_dir, loaded.spec.name, loaded.spec.profile))
    table = localisation_table(report.summary)
    if args.format == "json":
        payload = json_payload(explanation)
        columns = ["row", *(column for column in report.summary if column.startswith(f"{args.split}/"))]
        localisation = report.summary[columns] if explanation.has_boxes else None
        payload["localisation"] = None if localisation is None else json.loads(localisation.to_json(orient="records"))
        print(json.dumps(payload, indent=2))
    elif explanation.has_boxes:
        print(to_markdown(table))
    else:
        print(f"{args.split} data of {args.study} has no object boxes: galleries only, no localisation scores")
    print(f"wrote {', '.join(path.name for path in paths)} to {out_dir}", file=sys.stderr)
    print(f"'attnlab report {args.study}' now shows them in its table and report.html", file=sys.stderr)
    return 0
