"""A self-contained HTML report: inline CSS and inline SVG, no script and no external resource.

It must open from a file, offline, years later (an e-mail attachment, an archived run folder),
so nothing in it may point anywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from attnlab.reports.tables import Table

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.status { padding: 0.5rem 0.8rem; border-radius: 4px; display: inline-block; font-weight: 600; }
.partial { background: #fff3cd; border: 1px solid #e0a800; }
.complete { background: #d4edda; border: 1px solid #28a745; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25rem 0.45rem; white-space: nowrap; }
th { border-bottom: 2px solid #333; text-align: left; white-space: normal; vertical-align: bottom; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; } figure svg, figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.85rem; color: #555; }
.scroll { overflow-x: auto; }
.notes { font-size: 0.85rem; color: #444; max-width: 60rem; }
"""


@dataclass(frozen=True)
class HtmlSection:
    """A heading with a table or a figure (inline SVG, or a base64 PNG as a data URI) and an optional caption."""

    heading: str
    table: Table | None = None
    svg: str | None = None
    caption: str = ""
    png: str | None = None


def table_html(table: Table) -> str:
    header = "".join(f"<th>{escape(label)}</th>" for label in table.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(cell)}</td>' if numeric else f"<td>{escape(cell)}</td>"
            for cell, numeric in zip(row, table.numeric, strict=True)
        )
        + "</tr>"
        for row in table.rows
    )
    return f'<div class="scroll"><table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></div>'


def _section_html(section: HtmlSection) -> str:
    parts = [f"<h2>{escape(section.heading)}</h2>"]
    if section.table is not None:
        parts.append(table_html(section.table))
    figure = section.svg
    if section.png is not None:
        figure = f'<img src="data:image/png;base64,{section.png}" alt="{escape(section.heading)}">'
    if figure is not None:
        caption = f"<figcaption>{escape(section.caption)}</figcaption>" if section.caption else ""
        parts.append(f"<figure>{figure}{caption}</figure>")
    elif section.caption:
        parts.append(f'<p class="notes">{escape(section.caption)}</p>')
    return "\n".join(parts)


def split_table(table: Table, last_first_column: str) -> tuple[Table, Table]:
    """The columns up to ``last_first_column``, and the first column with the rest: two tables a page can hold."""
    cut = table.columns.index(last_first_column) + 1
    keep = [0, *range(cut, len(table.columns))]

    def part(indices: list[int]) -> Table:
        return Table(
            columns=tuple(table.columns[i] for i in indices),
            rows=tuple(tuple(row[i] for i in indices) for row in table.rows),
            numeric=tuple(table.numeric[i] for i in indices),
        )

    return part(list(range(cut))), part(keep)


def render_html(
    title: str,
    status: str,
    partial: bool,
    notes: list[str],
    sections: list[HtmlSection],
    appendix: Sequence[HtmlSection] = (),
) -> str:
    """The whole document: results and figures first, then the notes, then ``appendix`` (e.g. every cell).

    ``status`` is shown as a banner, amber while the study is partial.
    """
    notes_html = f'<h2>Notes</h2>\n<ul class="notes">{"".join(f"<li>{escape(note)}</li>" for note in notes)}</ul>'
    body = "\n".join([*(_section_html(s) for s in sections), notes_html, *(_section_html(s) for s in appendix)])
    status_class = "partial" if partial else "complete"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="status {status_class}">{escape(status)}</p>
{body}
</body>
</html>
"""
