"""``attnlab dashboard``: optuna-dashboard on the study storage, bound to localhost by default."""

from __future__ import annotations

import argparse

HELP = "serve optuna-dashboard on the study storage, on localhost"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnlab dashboard", description=f"{HELP}.")
    parser.add_argument("--storage", metavar="URL", help="Optuna storage (default: the sweeps' runs/attnlab.journal)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default: %(default)s)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from attnlab.reports.dashboard import serve_dashboard
    from attnlab.sweeps.storage import DEFAULT_STORAGE

    try:
        serve_dashboard(args.storage or DEFAULT_STORAGE, args.host, args.port)
    except KeyboardInterrupt:
        print("dashboard stopped")
    return 0
