"""What every command prints: rich tables on a terminal, whole plain lines in a pipe, JSON for scripts.

In a pipe rich would wrap a table at 80 columns and split names across lines, so ``attnlab studies |
grep NAME`` would miss them. Here a table is printed through :func:`print_table`: rich when stdout is a
terminal, otherwise one plain line per row, columns aligned, nothing wrapped or cut. Commands that a
script would read take ``--format {table,json}`` (:func:`add_format_option`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

FORMATS = ("table", "json")
COLUMN_GAP = "  "


def add_format_option(parser: argparse.ArgumentParser | Any, *, json_alias: bool = False) -> None:
    """``--format {table,json}`` (default table); ``json_alias`` keeps an older ``--json`` flag working."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table: for reading (whole lines in a pipe); json: one JSON document for scripts (default: %(default)s)",
    )
    if json_alias:
        parser.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")


def stdout_console() -> Console:
    """Console on stdout: rich on a terminal; in a pipe no colour and no wrapping of long lines."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console.soft_wrap = True
    return console


def print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def _plain(cell: RenderableType, joiner: str) -> str:
    """A cell's text without markup, its lines joined so a row stays on one line."""
    if isinstance(cell, str):
        cell = Text.from_markup(cell)
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return joiner.join(part for part in text.splitlines() if part)


def plain_table(table: Table) -> str:
    """The table as aligned plain lines: title, header, one line per row; no cell is wrapped or cut."""
    headers = [_plain(column.header, " ") for column in table.columns]
    columns = [[_plain(cell, ", ") for cell in column.cells] for column in table.columns]
    rows = [headers, *zip(*columns, strict=True)] if table.show_header else list(zip(*columns, strict=True))
    widths = [max(len(row[index]) for row in rows) for index in range(len(headers))]
    justify = [column.justify for column in table.columns]

    def line(row: list[str] | tuple[str, ...]) -> str:
        cells = [
            text.rjust(width) if side == "right" else text.ljust(width)
            for text, width, side in zip(row, widths, justify, strict=True)
        ]
        return COLUMN_GAP.join(cells).rstrip()

    title = [_plain(table.title, " ")] if table.title else []
    return "\n".join(title + [line(row) for row in rows])


def print_table(console: Console, table: Table) -> None:
    """Rich on a terminal; :func:`plain_table` when the console writes to a pipe or a file."""
    if console.is_terminal:
        console.print(table)
    else:
        console.print(plain_table(table), markup=False, highlight=False, soft_wrap=True)
