"""Builds a study's report from its loaded cells and writes it as Markdown, LaTeX, CSV, JSON and HTML.

Every output is rendered from the same :class:`Report` (one aggregation, one formatting), so the
terminal, the paper's LaTeX table and the HTML page can never disagree.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from attnlab.errors import ConfigError
from attnlab.reports.aggregate import aggregate, compare_metric, scheduled_cells
from attnlab.reports.cells import COMPLETE, STATES, cell_frame, metric_columns, unfinished_text
from attnlab.reports.effects import EffectsAnalysis, analyse_effects, effects_payload, method_note, ols_note, seeds_text
from attnlab.reports.explain_files import GalleryFigure, WrittenExplanation
from attnlab.reports.explain_metrics import LOCALISATION_DIRECTION
from attnlab.reports.html import HtmlSection, render_html, split_table
from attnlab.reports.plots import (
    effects_plot,
    error_bar_chart,
    forest_plot,
    interaction_plot,
    learning_curves,
    to_png,
    to_svg,
    trade_off_chart,
)
from attnlab.reports.spec import LoadedStudy, StudySpec
from attnlab.reports.tables import Table, cells_table, effects_table, paper_table, to_latex, to_markdown
from attnlab.stats.comparisons import ALPHA, CONFIDENCE, COVERAGE_NOTE, IMPROVEMENT_DEFINITION, POWER
from attnlab.sweeps.store.records import CellRecord, StepTiming

REPORT_FILES = ("report.md", "table.tex", "summary.csv", "cells.csv", "summary.json", "report.html")
EFFECTS_FILES = ("effects.tex", "effects.csv")  # a factorial study's Effects table, beside table.tex and summary.csv
FIGURES_FOLDER = "figures"  # each figure of the HTML also as its own PNG and SVG, for a paper


@dataclass(frozen=True)
class Report:
    """One study's cells, their per-row aggregation and how it was computed."""

    spec: StudySpec
    source: str
    cells: pd.DataFrame
    summary: pd.DataFrame
    correction: str
    effect: float | None = None  # --effect: the difference whose seeds-needed figure is shown
    margin: float | None = None  # --margin: the equivalence margin of the TOST column
    figures: list[GalleryFigure] = field(default_factory=list)  # galleries of ``attnlab explain``, if it ran
    step_timing: StepTiming | None = None  # the study's side-by-side step timing (the time-overhead column)
    curves: dict[str, list[dict[int, float]]] = field(default_factory=dict)  # row -> complete seeds' val curves
    effects: EffectsAnalysis | None = None  # a factorial study's effects; None for one-at-a-time studies

    @property
    def title(self) -> str:
        profile = f" (profile {self.spec.profile})" if self.spec.profile else ""
        return f"Ablation report: {self.spec.name}{profile}"

    @property
    def state_counts(self) -> dict[str, int]:
        return {state: int((self.cells["state"] == state).sum()) for state in STATES}

    @property
    def partial(self) -> bool:
        return self.state_counts[COMPLETE] < len(self.cells)

    @property
    def status(self) -> str:
        """``PARTIAL: 7/12 cells complete (2 running, 1 failed, 2 missing)`` or ``COMPLETE: 12/12 cells``."""
        counts = self.state_counts
        done = f"{counts[COMPLETE]}/{len(self.cells)}"
        if not self.partial:
            return f"COMPLETE: {done} cells"
        return f"PARTIAL: {done} cells complete ({unfinished_text(counts)})"

    def notes(self) -> list[str]:
        """How to read the numbers: which statistics, which test, which correction."""
        spec = self.spec
        compared = int((self.summary["verdict"] != "baseline").sum())
        level = f"{CONFIDENCE:.0%}"
        notes = [
            f"Source: {self.source}.",
            "Errors: mean ± sample standard deviation over the complete seeds of each row; failed, running and "
            "missing cells are counted in 'Cells' and listed per cell, never averaged in.",
            f"{level} CI: Student t interval over seeds (n − 1 degrees of freedom) of {spec.metric}.",
            f"Δ vs baseline ({self._baseline_text()}): paired over the seeds both rows completed (row − baseline, "
            f"{spec.metric}), mean difference with its {level} paired-t interval; p: two-sided paired t-test; "
            "rows with fewer than 2 seed pairs are not tested.",
        ]
        if self.correction == "holm":
            notes.append(
                f"Verdict at α = {ALPHA:.2f} on Holm–Bonferroni adjusted p-values across the {compared} rows "
                "compared with the baseline ('p (Holm)'); 'within noise' means the difference cannot be told "
                "apart from seed-to-seed variation with this many seeds."
            )
        else:
            notes.append(
                f"Verdict at α = {ALPHA:.2f} on unadjusted p-values: with {compared} rows compared, about "
                f"{ALPHA * compared:.2f} 'better'/'worse' verdicts are expected by chance alone (--correction holm)."
            )
        notes += self._power_notes()
        notes.append(
            "GFLOPs are multiply-accumulates (GMACs) of one forward pass at the data's image size, as in the paper. "
            + self._time_note()
        )
        if self.localisation_metrics:
            notes.append(
                "Localisation ('attnlab explain'): Grad-CAM at the last stage of each complete seed's best checkpoint "
                "on the same seeded images; 'in box': the share of the map's sum inside the object's box, 'pointing "
                "game': how often its maximum is inside; each the mean over images per seed, then aggregated over "
                "seeds and compared with the baseline as above (higher is better)."
            )
        if self.effects is not None:
            notes.append(method_note(self.effects))
            if self.effects.effects:
                notes.append(ols_note(self.effects))
        if any(self.spec.paper.values()):
            notes.append(
                "'(paper)' columns: the paper's published numbers for that row, for reference; they come from the "
                "paper's dataset and recipe, which this profile may not reproduce."
            )
        return notes

    def _power_notes(self) -> list[str]:
        """How to read what the seeds can tell: MDD, seeds needed, P(better), TOST, the sequential rule."""
        notes = [
            f"MDD: the smallest true difference the paired t-test would detect with {POWER:.0%} power at α = "
            f"{ALPHA:.2f} (two-sided, per comparison) with this row's seed pairs and paired-difference spread."
        ]
        if self.effect is not None:
            notes.append(
                f"Seeds for Δ={self.effect:g}: seed pairs needed to detect a true difference of {self.effect:g} with "
                f"{POWER:.0%} power at α = {ALPHA:.2f}, if the paired-difference spread stays as measured."
            )
        notes += [IMPROVEMENT_DEFINITION, COVERAGE_NOTE]
        if self.margin is not None:
            notes.append(
                f"Equivalence (--margin {self.margin:g}): two one-sided tests at α = {ALPHA:.2f}; a row whose "
                f"{1 - 2 * ALPHA:.0%} paired interval lies inside ±{self.margin:g} is 'equivalent within "
                f"±{self.margin:g}', a result, unlike 'within noise'."
            )
        plan = self.spec.sequential
        if plan is not None:
            notes.append(
                f"Verdicts are sequential (attnlab ablate --until-decided --max-seeds {plan.max_seeds}): "
                f"{plan.describe()}. 'Δ repeated CI' is the row's 1 − α repeated confidence interval at its last "
                "look: 'better'/'worse' when it excludes 0, 'equivalent' when the 1 − 2α one lies inside the margin; "
                "this holds its error rates although seeds were added until decided. The fixed-sample columns (p, "
                "Δ 95% CI, TOST p) are shown for reference only: they do not account for the looks."
            )
        return notes

    @property
    def localisation_metrics(self) -> list[str]:
        """The per-cell localisation scores merged from ``attnlab explain`` (none for data without boxes)."""
        return [column[: -len(".verdict")] for column in self.summary if column.endswith(".verdict")]

    def _time_note(self) -> str:
        if self.step_timing is None:
            return (
                "Time overhead: not measured for this study (—); the cells' own throughput (cells.csv, Images/s) "
                "depends on what else their machine was doing and makes no overhead."
            )
        return (
            f"Time overhead: row's step time ÷ its baseline's − 1, {self.step_timing.describe()}; measured once "
            "for the study. Cells' own throughput (cells.csv) is what each run met, under its machine's load."
        )

    def _baseline_text(self) -> str:
        baselines = self.summary["baseline"].dropna().unique()
        return f"'{baselines[0]}'" if len(baselines) == 1 else "each row's own, column 'Baseline'"

    def tables(self) -> tuple[Table, Table]:
        """The paper-style results table and the per-cell table."""
        return self._tables

    @cached_property
    def _tables(self) -> tuple[Table, Table]:  # built once: every output renders them, 20,000 cells take seconds
        metrics = metric_columns(self.cells)
        results = paper_table(
            self.summary, self.spec, metrics, self.correction == "holm", effect=self.effect, margin=self.margin
        )
        return results, cells_table(self.cells, self.spec, metrics)

    def effects_table(self) -> Table | None:
        """A factorial study's Effects table; None for a one-at-a-time study."""
        return None if self.effects is None else effects_table(self.effects)


def build_report(
    loaded: LoadedStudy,
    *,
    baseline: str | None = None,
    metric: str | None = None,
    correction: str = "holm",
    effect: float | None = None,
    margin: float | None = None,
    explanation: WrittenExplanation | None = None,
) -> Report:
    """Aggregates the loaded cells; ``baseline``/``metric`` override the study's own (checked, ConfigError).

    A sequential study's equivalence margin is its plan's unless ``margin`` is given. With an ``explanation``
    its per-cell localisation scores join the cells, aggregate like the logged metrics and are compared with the
    baseline in the same way; its galleries go into the HTML.
    """
    spec = loaded.spec.including(loaded.records).with_choices(baseline=baseline, metric=metric)
    if not spec.rows:
        raise ConfigError(f"{loaded.source}: study {spec.name} has no cells yet; nothing to report")
    if margin is None and spec.sequential is not None:
        margin = spec.sequential.margin
    cells = scheduled_cells(cell_frame(loaded.records, spec), spec)
    timing = step_timing_for(loaded.step_timings, cells)
    scores = explanation.localisation if explanation is not None else None
    if scores is not None:
        complete = scores.merge(cells.loc[cells["state"] == COMPLETE, ["row", "seed"]], on=["row", "seed"])
        cells = cells.merge(complete, on=["row", "seed"], how="left")
    summary = aggregate(cells, spec, correction, effect=effect, margin=margin, step_timing=timing)
    effects = None if spec.factorial is None else analyse_effects(spec.factorial, cells, spec, effect, margin)
    for name in [] if scores is None else [column for column in scores if column not in ("row", "seed")]:
        summary = summary.merge(compare_metric(cells, spec, name, LOCALISATION_DIRECTION, correction), on="row")
    return Report(
        spec=spec,
        source=loaded.source,
        cells=cells,
        summary=summary,
        correction=correction,
        effect=effect,
        margin=margin,
        figures=explanation.figures if explanation is not None else [],
        step_timing=timing,
        curves=row_curves(loaded.records),
        effects=effects,
    )


def row_curves(records: list[CellRecord]) -> dict[str, list[dict[int, float]]]:
    """Each row's validation curves (the trials' intermediate values) of its complete cells that reported one."""
    curves: dict[str, list[dict[int, float]]] = {}
    for record in records:
        if record.state == COMPLETE and record.curve:
            curves.setdefault(record.row, []).append({int(epoch): value for epoch, value in record.curve.items()})
    return curves


def step_timing_for(timings: Mapping[str, Any], cells: pd.DataFrame) -> StepTiming | None:
    """The stored step timing of the device most complete cells trained on (else the first stored), if any."""
    if not timings:
        return None
    trained_on = cells.loc[cells["state"] == COMPLETE, "device"].dropna().value_counts()
    device = next((label for label in trained_on.index if label in timings), next(iter(timings)))
    return StepTiming.from_dict(timings[device])


def _effects_markdown(report: Report, heading: str) -> str:
    """The Effects table under ``heading`` with the seeds it rests on; empty for a one-at-a-time study."""
    table = report.effects_table()
    if table is None or report.effects is None:
        return ""
    return f"{heading}\n\n{seeds_text(report.effects)}.\n\n{to_markdown(table)}\n\n"


def terminal_text(report: Report) -> str:
    """What ``attnlab report`` prints: the status line, the Markdown results table, the Effects table and the notes."""
    results, _ = report.tables()
    notes = "\n".join(f"- {note}" for note in report.notes())
    effects = _effects_markdown(report, "Effects")
    return f"{report.title}\n{report.status}\n\n{to_markdown(results)}\n\n{effects}{notes}\n"


def markdown_text(report: Report) -> str:
    results, cells = report.tables()
    notes = "\n".join(f"- {note}" for note in report.notes())
    effects = _effects_markdown(report, "## Effects")
    return (
        f"# {report.title}\n\n**{report.status}**\n\n{to_markdown(results)}\n\n{effects}{notes}\n\n"
        f"## Cells\n\n{to_markdown(cells)}\n"
    )


def json_payload(report: Report) -> dict[str, Any]:
    """The aggregated rows with the study's settings, NaN as null, for scripts (``--format json``)."""
    counts = report.state_counts
    effects = {} if report.effects is None else {"effects": effects_payload(report.effects)}
    return {
        "study": report.spec.name,
        "profile": report.spec.profile,
        "source": report.source,
        "metric": report.spec.metric,
        "direction": report.spec.direction,
        "baseline": report.spec.baseline,
        "confidence": CONFIDENCE,
        "correction": report.correction,
        "power": POWER,
        "effect": report.effect,
        "margin": report.margin,
        "sequential": None if report.spec.sequential is None else report.spec.sequential.describe(),
        "status": report.status,
        "partial": report.partial,
        "cells": counts | {"expected": len(report.cells)},
        "step_timing": report.step_timing.to_dict() if report.step_timing else None,
        "rows": json.loads(report.summary.to_json(orient="records")),
    } | effects


@dataclass(frozen=True)
class ReportFigure:
    """One figure of the report: its file stem, heading, caption and the figure itself."""

    name: str
    heading: str
    caption: str
    figure: Figure


def margin_caption(margin: float | None) -> str:
    """What a figure's caption adds for the ±δ band drawn with ``--margin``."""
    return f"; green band: the equivalence margin ±{margin:g}" if margin is not None else ""


def report_figures(report: Report) -> list[ReportFigure]:
    """The figures in reading order: the paired differences the verdicts rest on, then curves, rows and cost."""
    level = f"{CONFIDENCE:.0%}"
    spec, summary = report.spec, report.summary
    margin = margin_caption(report.margin)
    figures = [
        *effects_figures(report),
        ReportFigure(
            "forest",
            "Paired differences to the baseline",
            f"Dots: mean paired difference (row − baseline) over the seeds both completed; whiskers: its {level} "
            f"paired-t interval; black line: no difference; red ticks: ± the MDD{margin}.",
            forest_plot(summary, spec, report.margin),
        ),
    ]
    if report.curves:
        figures.append(
            ReportFigure(
                "learning_curves",
                "Learning curves",
                "Validation error per epoch of the complete cells: line, the mean over seeds; band, min to max.",
                learning_curves(report.curves, spec),
            )
        )
    figures += [
        ReportFigure(
            "by_row",
            f"{spec.metric} by row",
            f"Bars: mean over complete seeds; whiskers: {level} Student t interval; n: complete seeds. "
            "The axis is zoomed on the data and does not start at 0.",
            error_bar_chart(summary, spec),
        ),
        ReportFigure(
            "cost",
            f"{spec.metric} against cost",
            "Left: parameters; right: training-step time overhead against the baseline, measured side by side "
            "(see the notes).",
            trade_off_chart(summary, spec),
        ),
    ]
    return figures


def effects_figures(report: Report) -> list[ReportFigure]:
    """A factorial study's effects with their bands and, for a 2×2 design, its interaction plot (two seeds on)."""
    analysis = report.effects
    if analysis is None or not analysis.effects:
        return []
    level = f"{CONFIDENCE:.0%}"
    margin = margin_caption(report.margin)
    figures = [
        ReportFigure(
            "effects",
            "Effects",
            f"Dots: each effect (mean at the high level − at the low level, over the {len(analysis.seeds)} complete "
            f"seeds), largest on top; whiskers: its {level} t interval over seeds; black line: no effect; red band: ± "
            f"its MDD{margin}.",
            effects_plot(list(analysis.effects.values()), report.spec, report.margin),
        )
    ]
    design = analysis.design
    if design.kind == "full" and len(design.factors) == 2:
        first, second = design.factors
        labels = tuple(list(analysis.layout.levels[factor]) for factor in design.factors)
        figures.append(
            ReportFigure(
                "interaction",
                f"Interaction: {first} × {second}",
                f"Mean {report.spec.metric} at each level of {first}, one line per level of {second}, over the "
                f"complete seeds; whiskers: {level} Student t interval of each run over seeds, which includes the "
                "seed-to-seed shift all runs share and the effects' per-seed contrasts remove (read the verdict in "
                "the Effects table). Parallel lines: no interaction.",
                interaction_plot(analysis.responses, design.matrix, (first, second), labels, report.spec),
            )
        )
    return figures


def html_text(report: Report, figures: list[ReportFigure] | None = None) -> str:
    results, cells = report.tables()
    verdicts, power = split_table(results, "Cells")
    sections = [HtmlSection("Results", table=verdicts)]
    if len(power.columns) > 1:
        sections.append(HtmlSection("What the seeds can tell", table=power))
    effects = report.effects_table()
    if effects is not None and report.effects is not None:
        sections.append(HtmlSection("Effects", table=effects, caption=f"{seeds_text(report.effects)}."))
    sections += [
        HtmlSection(figure.heading, svg=to_svg(figure.figure), caption=figure.caption)
        for figure in (report_figures(report) if figures is None else figures)
    ]
    sections += [
        HtmlSection(figure.heading, png=base64.b64encode(figure.png).decode("ascii"), caption=figure.caption)
        for figure in report.figures
    ]
    appendix = [
        HtmlSection("Cells", table=cells, caption="Every cell of the study grid, including failed and missing.")
    ]
    return render_html(report.title, report.status, report.partial, report.notes(), sections, appendix)


def write_figures(figures: list[ReportFigure], out_dir: Path) -> list[Path]:
    """Each figure as ``NAME.png`` and ``NAME.svg`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for figure in figures:
        png, svg = out_dir / f"{figure.name}.png", out_dir / f"{figure.name}.svg"
        png.write_bytes(to_png(figure.figure))
        svg.write_text(to_svg(figure.figure), encoding="utf-8")
        paths += [png, svg]
    return paths


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Writes :data:`REPORT_FILES` into ``out_dir`` (created), returning their paths, and the figures' files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results, _ = report.tables()
    figures = report_figures(report)
    contents = {
        "report.md": markdown_text(report),
        "table.tex": to_latex(results, comment=f"{report.title}\n{report.status}\nNeeds \\usepackage{{booktabs}}."),
        "summary.csv": report.summary.to_csv(index=False),
        "cells.csv": report.cells.to_csv(index=False),
        "summary.json": json.dumps(json_payload(report), indent=2) + "\n",
        "report.html": html_text(report, figures),
    }
    effects = report.effects_table()
    if effects is not None:
        contents["effects.tex"] = to_latex(effects, comment=f"{report.title}: effects\n{report.status}")
        contents["effects.csv"] = pd.DataFrame(list(effects.rows), columns=list(effects.columns)).to_csv(index=False)
    paths = []
    for name in [*REPORT_FILES, *EFFECTS_FILES] if effects is not None else REPORT_FILES:
        path = out_dir / name
        path.write_text(contents[name], encoding="utf-8")
        paths.append(path)
    write_figures(figures, out_dir / FIGURES_FOLDER)
    return paths
