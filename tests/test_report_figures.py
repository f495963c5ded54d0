"""The report's figures: cost-plot labels that never overlap, every figure as its own PNG and SVG."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text
from test_report_outputs import report  # noqa: F401  (the fixture)

from attnlab.reports.plots import trade_off_chart
from attnlab.reports.report import FIGURES_FOLDER, Report, report_figures, write_report


def test_cost_plot_row_labels_never_overlap(report: Report) -> None:  # noqa: F811
    figure = trade_off_chart(report.summary, report.spec)
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    rows = set(report.summary["row"])
    labels = [text for text in figure.findobj(Text) if text.get_text() in rows and text.get_visible()]
    assert sorted(text.get_text() for text in labels) == sorted(rows)  # each row labelled once
    boxes = [text.get_window_extent(renderer) for text in labels]
    assert not [(a, b) for a, b in combinations(boxes, 2) if a.overlaps(b)]


def test_every_figure_is_written_as_png_and_svg(report: Report, tmp_path: Path) -> None:  # noqa: F811
    write_report(report, tmp_path)
    names = [figure.name for figure in report_figures(report)]
    assert names == ["forest", "by_row", "cost"]  # no learning curves: the hand-made cells reported none
    written = sorted(path.name for path in (tmp_path / FIGURES_FOLDER).iterdir())
    assert written == sorted(f"{name}.{ext}" for name in names for ext in ("png", "svg"))
    assert (tmp_path / FIGURES_FOLDER / "forest.png").read_bytes().startswith(b"\x89PNG")
    assert "<svg" in (tmp_path / FIGURES_FOLDER / "forest.svg").read_text()
