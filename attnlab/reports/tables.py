"""The report's tables as plain text cells, and their Markdown and LaTeX (booktabs) renderings.

A :class:`Table` is formatted once (numbers to strings) so Markdown, LaTeX and HTML show exactly
the same values; each renderer only escapes and lays out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from attnlab.reports.aggregate import format_p
from attnlab.reports.cells import COMPLETE, STATES, unfinished_text
from attnlab.reports.effects import NEEDS_SEEDS, EffectsAnalysis, aliases_text, levels_text, verdict_text
from attnlab.reports.explain_metrics import LOCALISATION_METRICS
from attnlab.reports.spec import StudySpec
from attnlab.stats.comparisons import MAX_SEEDS_NEEDED
from attnlab.stats.effects import Effect, effect_name

Row = Mapping[str, Any]  # one row of a summary or cells frame, by column name

NOT_AVAILABLE = "—"


@dataclass(frozen=True)
class Table:
    """Header and body cells as display strings; ``numeric`` columns are right-aligned."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _or_dash(render: Callable[[Any], str]) -> Callable[[Any], str]:
    """``render`` for a value, a dash for a missing one (no cell, or too few seeds)."""
    return lambda value: NOT_AVAILABLE if _is_missing(value) else render(value)


def _number(fmt: str) -> Callable[[Any], str]:
    return _or_dash(lambda value: format(value, fmt))


format_params = _or_dash(lambda value: f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e6:.3f}M")
_p_text = _or_dash(format_p)
_count = _or_dash(lambda value: f">{MAX_SEEDS_NEEDED}" if math.isinf(value) else str(int(value)))
_time_overhead = _or_dash(lambda ratio: f"{(ratio - 1) * 100:+.0f}%")


def _mean_std(mean: float, std: float) -> str:
    if _is_missing(mean):
        return NOT_AVAILABLE
    return f"{mean:.2f}" if _is_missing(std) else f"{mean:.2f} ± {std:.2f}"


def _interval(low: float, high: float) -> str:
    return NOT_AVAILABLE if _is_missing(low) else f"[{low:.2f}, {high:.2f}]"


def _difference(row: Row, prefix: str = "") -> str:
    """The paired mean difference with its interval (none with 1 pair); ``prefix``: another metric's columns."""
    low, high = row[f"{prefix}paired.ci_low"], row[f"{prefix}paired.ci_high"]
    if _is_missing(row[f"{prefix}paired.diff"]):
        return NOT_AVAILABLE
    interval = "" if _is_missing(low) else " " + _interval(low, high)
    return f"{row[f'{prefix}paired.diff']:+.2f}{interval}"


def _cells_done(row: Row) -> str:
    """``2/3 (1 failed)``: complete cells of the row's grid, and what the others are."""
    others = unfinished_text({state: int(row[state]) for state in STATES})
    done = f"{int(row[COMPLETE])}/{int(row['cells'])}"
    return f"{done} ({others})" if others else done


def shown_metrics(spec: StudySpec, available: list[str]) -> list[tuple[str, str]]:
    """(label, metric): top-1/top-5 errors on the split of the study's metric, then that metric if it is neither."""
    split = spec.metric.split("/")[0]
    wanted = [("Top-1 Err.", f"{split}/top1_err"), ("Top-5 Err.", f"{split}/top5_err")]
    shown = [(label, metric) for label, metric in wanted if metric in available]
    return shown if spec.metric in {metric for _, metric in shown} else [*shown, (spec.metric, spec.metric)]


Column = tuple[str, bool, Callable[[Row], str]]  # label, right-aligned, how a row renders
_PAPER_FORMATS: dict[str, Callable[[Any], str]] = {
    "params_m": _or_dash(lambda value: f"{value:.2f}M"),
    "gflops": _number(".3f"),
    "top1_err": _number(".2f"),
    "top5_err": _number(".2f"),
}


def _with_paper(summary: pd.DataFrame, column: Column, key: str) -> list[Column]:
    """Our column, followed by the paper's number for it where the study has one for any row."""
    label = column[0]
    if key not in _PAPER_FORMATS or not summary[f"paper.{key}"].notna().any():
        return [column]
    render = _PAPER_FORMATS[key]
    return [column, (f"{label} (paper)", True, lambda row: render(row[f"paper.{key}"]))]


def _improvement(row: Row) -> str:
    """P(row beats baseline on a matched seed) with its exact (Clopper–Pearson) interval."""
    if _is_missing(row["poi"]):
        return NOT_AVAILABLE
    interval = "" if _is_missing(row["poi.ci_low"]) else f" [{row['poi.ci_low']:.2f}, {row['poi.ci_high']:.2f}]"
    return f"{row['poi']:.2f}{interval}"


def power_columns(summary: pd.DataFrame, effect: float | None, margin: float | None) -> list[Column]:
    """What the seeds can tell: detectable difference, seeds for --effect, P(better), TOST, the sequential interval."""
    columns: list[Column] = [
        ("MDD", True, lambda row: _or_dash(lambda value: f"±{value:.2f}")(row["paired.mdd"])),
    ]
    if effect is not None:
        columns.append((f"Seeds for Δ={effect:g}", True, lambda row: _count(row["paired.seeds_needed"])))
    columns.append(("P(better) [95% CI]", True, _improvement))
    if margin is not None:
        columns.append((f"TOST p (±{margin:g})", True, lambda row: _p_text(row["tost.p"])))
    if "seq.ci_low" in summary:
        columns.append(
            ("Δ repeated CI", True, lambda row: _interval(float(row["seq.ci_low"]), float(row["seq.ci_high"])))
        )
    return columns


def paper_table(
    summary: pd.DataFrame,
    spec: StudySpec,
    metrics: list[str],
    holm_adjusted: bool,
    effect: float | None = None,
    margin: float | None = None,
) -> Table:
    """Architecture | Param. | GFLOPs | Top-1 Err. | Top-5 Err. (each beside the paper's) | statistics | time."""
    columns: list[Column] = [("Architecture", False, lambda row: row["row"])]
    columns += _with_paper(summary, ("Param.", True, lambda row: format_params(row["params"])), "params_m")
    columns += _with_paper(summary, ("GFLOPs", True, lambda row: _number(".4g")(row["gmacs"])), "gflops")
    for label, metric in shown_metrics(spec, metrics):
        ours: Column = (label, True, lambda row, m=metric: _mean_std(row[f"{m}.mean"], row[f"{m}.std"]))
        columns += _with_paper(summary, ours, metric.rsplit("/", 1)[-1])
    if summary["baseline"].nunique() > 1:
        columns.append(("Baseline", False, lambda row: row["baseline"] or NOT_AVAILABLE))
    columns += [
        ("95% CI", True, lambda row: _interval(row[f"{spec.metric}.ci_low"], row[f"{spec.metric}.ci_high"])),
        ("Δ vs baseline [95% CI]", True, _difference),
        ("Pairs", True, lambda row: _count(row["paired.n"])),
        ("p", True, lambda row: _p_text(row["paired.p"])),
    ]
    if holm_adjusted:
        columns.append(("p (Holm)", True, lambda row: _p_text(row["paired.p_holm"])))
    columns += [
        ("Verdict", False, lambda row: row["verdict"]),
        ("Time overhead", True, lambda row: _time_overhead(row["time_ratio"])),
    ]
    columns += localisation_columns(summary)
    columns.append(("Cells", True, _cells_done))
    columns += power_columns(summary, effect, margin)  # what the seeds can tell, after the established columns
    return _build(summary, columns)


def localisation_columns(summary: pd.DataFrame) -> list[Column]:
    """Per localisation score that ``attnlab explain`` measured: mean ± std, Δ vs baseline and verdict."""
    columns: list[Column] = []
    for name, label in LOCALISATION_METRICS.items():
        metric = next((column[: -len(".mean")] for column in summary if column.endswith(f"/{name}.mean")), None)
        if metric is None or not summary[f"{metric}.mean"].notna().any():
            continue  # data without boxes: no column, not zeros
        short = label.split(" (")[0]
        columns += [
            (label, True, lambda row, m=metric: _mean_std(row[f"{m}.mean"], row[f"{m}.std"])),
            (f"Δ {short} [95% CI]", True, lambda row, m=metric: _difference(row, f"{m}.")),
            (f"Verdict ({short})", False, lambda row, m=metric: row[f"{m}.verdict"]),
        ]
    return columns


def localisation_table(summary: pd.DataFrame) -> Table:
    """Architecture and the localisation columns alone (what ``attnlab explain`` prints)."""
    return _build(summary, [("Architecture", False, lambda row: row["row"]), *localisation_columns(summary)])


def cells_table(cells: pd.DataFrame, spec: StudySpec, metrics: list[str]) -> Table:
    """Every cell with its state, so failed, running and missing cells are listed by name."""
    columns: list[Column] = [
        ("Row", False, lambda cell: cell["row"]),
        ("Seed", True, lambda cell: str(cell["seed"])),
        ("State", False, lambda cell: cell["state"]),
    ]
    columns += [
        (label, True, lambda cell, m=metric: _number(".2f")(cell[m])) for label, metric in shown_metrics(spec, metrics)
    ]
    columns += [
        ("Param.", True, lambda cell: format_params(cell["params"])),
        ("GFLOPs", True, lambda cell: _number(".4g")(cell["gmacs"])),
        ("Images/s", True, lambda cell: _number(".1f")(cell["train_images_per_s"])),
        ("Attempts", True, lambda cell: str(cell["attempts"])),
        ("Note", False, lambda cell: "" if _is_missing(cell["failure_reason"]) else str(cell["failure_reason"])),
    ]
    return _build(cells, columns)


def effects_table(analysis: EffectsAnalysis) -> Table:
    """Effect | Levels | Estimate | 95% CI | p | p (Holm) | Verdict | MDD | Seeds for Δ | TOST p | Aliases (a fraction).

    Below two complete replicates every number is a dash and the verdict says the seeds it needs.
    """
    margin, effect = analysis.margin, analysis.effect
    numbers: list[tuple[str, bool, Callable[[Effect], str]]] = [
        ("Estimate", True, lambda found: f"{found.estimate:+.2f}"),
        ("95% CI", True, lambda found: _interval(found.low, found.high)),
        ("p", True, lambda found: _p_text(found.p_value)),
        ("p (Holm)", True, lambda found: _p_text(found.p_holm)),
        ("Verdict", False, lambda found: verdict_text(found, margin)),
        ("MDD", True, lambda found: _or_dash(lambda value: f"±{value:.2f}")(found.mdd)),
    ]
    if effect is not None:
        numbers.append((f"Seeds for Δ={effect:g}", True, lambda found: _count(found.seeds_for_effect)))
    if margin is not None:
        numbers.append((f"TOST p (±{margin:g})", True, lambda found: _p_text(found.tost_p)))
    fraction = analysis.design.kind == "fractional"
    body = []
    for word in analysis.words:
        found = analysis.effects.get(word)
        row = [effect_name(analysis.design, word), levels_text(analysis.layout, word)]
        if found is None:
            row += [NEEDS_SEEDS if label == "Verdict" else NOT_AVAILABLE for label, _, _ in numbers]
        else:
            row += [render(found) for _, _, render in numbers]
        body.append(tuple(row + [aliases_text(analysis.design, word)] * fraction))
    labels = ("Effect", "Levels", *(label for label, _, _ in numbers), *["Aliases"] * fraction)
    numeric = (False, False, *(right for _, right, _ in numbers), *[False] * fraction)
    return Table(columns=labels, rows=tuple(body), numeric=numeric)


def _build(frame: pd.DataFrame, columns: list[Column]) -> Table:
    rows = frame.to_dict("records")  # plain dicts: iterrows builds a Series per row, seconds at 20,000 cells
    body = tuple(tuple(render(row) for _, _, render in columns) for row in rows)
    return Table(
        columns=tuple(label for label, _, _ in columns),
        rows=body,
        numeric=tuple(numeric for _, numeric, _ in columns),
    )


def to_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table."""

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"

    rule = "|" + "|".join("---:" if numeric else ":---" for numeric in table.numeric) + "|"
    return "\n".join([line(table.columns), rule, *(line(row) for row in table.rows)])


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "×": r"$\times$",
    "·": r"$\cdot$",
    "—": "--",
    "−": "-",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def to_latex(table: Table, comment: str = "") -> str:
    """A booktabs ``tabular`` fragment (needs ``\\usepackage{booktabs}``), ready to ``\\input``."""
    spec = "".join("r" if numeric else "l" for numeric in table.numeric)
    lines = [f"% {line}" for line in comment.splitlines()]
    lines += [f"\\begin{{tabular}}{{{spec}}}", r"\toprule"]
    lines.append(" & ".join(latex_escape(cell) for cell in table.columns) + r" \\")
    lines.append(r"\midrule")
    lines += [" & ".join(latex_escape(cell) for cell in row) + r" \\" for row in table.rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
