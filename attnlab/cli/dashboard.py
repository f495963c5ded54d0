"""``attnlab dashboard``: optuna-dashboard on the study storage, bound to localhost by default.

The options are checked in the order the user wrote them (the ones left at their defaults last), so
the first message is about the first bad option on the command line.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

HELP = "serve optuna-dashboard on the study storage, on localhost"


class _InOrder(argparse.Action):
    """Stores the value and records the option's place on the command line."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: Any = None
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.written = [*getattr(namespace, "written", []), self.dest]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnlab dashboard", description=f"{HELP}.")
    parser.add_argument(
        "--storage", action=_InOrder, metavar="URL", help="Optuna storage (default: the sweeps' runs/attnlab.journal)"
    )
    parser.add_argument(
        "--host", action=_InOrder, default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument("--port", action=_InOrder, type=int, default=8080, help="TCP port (default: %(default)s)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from attnlab.reports.dashboard import check_host, require_tcp_port, serve_dashboard
    from attnlab.reports.sources.optuna_trials import existing_storage
    from attnlab.sweeps.store.storage import DEFAULT_STORAGE

    url = args.storage or DEFAULT_STORAGE
    opened: dict[str, Any] = {}
    checks: dict[str, Callable[[], Any]] = {
        "storage": lambda: existing_storage(url),
        "host": lambda: check_host(args.host),
        "port": lambda: require_tcp_port(args.port),
    }
    for name in [*getattr(args, "written", []), *checks]:
        if name not in opened:
            opened[name] = checks[name]()
    try:
        serve_dashboard(opened["storage"], url, args.host, args.port)
    except KeyboardInterrupt:
        print("dashboard stopped")
    return 0
