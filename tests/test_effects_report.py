"""The Effects section of a factorial study's report, on a hand-made 2×2 study (no training), checked by hand.

Expected numbers come from closed forms, not from the code under test: the Student t quantile from a table and
the t distribution's CDF at 2 degrees of freedom, P(|T| > t) = 1 - t / sqrt(t^2 + 2).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import optuna
import pytest

from attnlab.ablations import load_study
from attnlab.ablations.factorial import FactorialLayout, factorial_layout
from attnlab.cli.main import main as attnlab
from attnlab.reports.report import (
    EFFECTS_FILES,
    FIGURES_FOLDER,
    REPORT_FILES,
    Report,
    build_report,
    markdown_text,
    report_figures,
    terminal_text,
    write_report,
)
from attnlab.reports.spec import LoadedStudy, StudySpec
from attnlab.reports.tables import to_markdown
from attnlab.stats.designs import fractional_factorial, full_factorial
from attnlab.sweeps.store.records import STUDY_DEFINITION_ATTR, STUDY_PROFILE_ATTR, CellRecord
from attnlab.sweeps.store.storage import open_storage

COMPLETE = optuna.trial.TrialState.COMPLETE

T_975_DF2 = 4.302652729749464  # Student t table, two-sided 95%
RUNS = ("none", "channel", "spatial", "cbam")  # the design's runs in order: (-,-), (+,-), (-,+), (+,+)
LEVELS = {"channel": ("off", "on"), "spatial": ("off", "on")}
# top-1 error per seed and run
TOP1 = {0: (14.0, 12.0, 13.0, 11.0), 1: (15.0, 12.5, 14.0, 11.5), 2: (13.0, 11.5, 12.0, 10.0)}


def _records(values: dict[int, tuple[float | None, ...]]) -> list[CellRecord]:
    records = []
    for seed, errors in values.items():
        for row, error in zip(RUNS, errors, strict=True):
            if error is None:
                records.append(CellRecord(study="gates", row=row, seed=seed, state="failed", failure_reason="nan"))
            else:
                metrics = {"test/top1_err": error, "test/top5_err": error / 3}
                records.append(
                    CellRecord(study="gates", row=row, seed=seed, metrics=metrics, params=1000, state="complete")
                )
    return records


def _report(values: dict[int, tuple[float | None, ...]], **options: float) -> Report:
    spec = StudySpec(
        name="gates",
        profile="quick",
        rows=RUNS,
        seeds=tuple(values),
        baseline="none",
        factorial=FactorialLayout(full_factorial(list(LEVELS)), RUNS, LEVELS),
    )
    return build_report(LoadedStudy(spec, _records(values), "hand-made"), **options)


def _t_stats(contrasts: list[float]) -> tuple[float, float, float, float]:
    """Mean, 95% interval and p of three per-seed contrasts, from the closed forms."""
    mean = sum(contrasts) / 3
    stderr = math.sqrt(sum((value - mean) ** 2 for value in contrasts) / 2 / 3)
    t = abs(mean) / stderr
    return mean, mean - T_975_DF2 * stderr, mean + T_975_DF2 * stderr, 1 - t / math.sqrt(t * t + 2)


def test_two_by_two_effects_by_hand() -> None:
    report = _report(TOP1)
    assert report.effects is not None
    effects = report.effects.effects
    # per-seed contrasts: channel (12+11)/2-(14+13)/2 = -2 etc., spatial (13+11)/2-(14+12)/2 = -1 etc.,
    # interaction (14+11)/2-(12+13)/2 = 0, 0, -0.25
    by_hand = {"a": [-2.0, -2.5, -1.75], "b": [-1.0, -1.0, -1.25], "ab": [0.0, 0.0, -0.25]}
    for word, contrasts in by_hand.items():
        mean, low, high, p_value = _t_stats(contrasts)
        assert (effects[word].estimate, effects[word].low, effects[word].high) == pytest.approx((mean, low, high))
        assert effects[word].p_value == pytest.approx(p_value)
    p = {word: _t_stats(contrasts)[3] for word, contrasts in by_hand.items()}
    assert p["b"] < p["a"] < p["ab"]  # Holm: 3 p_b, then max(that, 2 p_a), then max(that, p_ab)
    assert effects["b"].p_holm == pytest.approx(3 * p["b"])
    assert effects["a"].p_holm == pytest.approx(max(3 * p["b"], 2 * p["a"]))
    assert effects["ab"].p_holm == pytest.approx(p["ab"])
    assert report.effects.seeds == (0, 1, 2) and report.effects.left_out == ()
    assert report.effects.ols_difference < 1e-9


def test_the_table_has_the_row_comparisons_columns_and_words() -> None:
    report = _report(TOP1, effect=1.0)
    table = report.effects_table()
    assert table is not None
    assert table.columns == (
        "Effect",
        "Levels",
        "Estimate",
        "95% CI",
        "p",
        "p (Holm)",
        "Verdict",
        "MDD",
        "Seeds for Δ=1",
    )  # a full factorial: no Aliases column
    rows = {row[0]: row for row in table.rows}
    assert list(rows) == ["channel", "spatial", "channel × spatial"]
    assert rows["channel"][:7] == (
        "channel",
        "on vs off",
        "-2.08",
        "[-3.03, -1.13]",
        "0.011",
        "0.022",
        "better (p_Holm=0.022)",
    )
    assert rows["spatial"][6] == "better (p_Holm=0.018)"
    assert rows["channel × spatial"][1] == "on·on & off·off vs on·off & off·on"
    assert rows["channel × spatial"][6] == "within noise (p_Holm=0.423)"
    text = terminal_text(report)
    assert "\nEffects\n\n3 of 3 seeds completed every run of the design and count.\n" in text
    assert to_markdown(table) in text and to_markdown(table) in markdown_text(report)
    assert "full factorial 2^2, 4 runs per seed: nothing aliased" in text and "max |difference|" in text


def test_margin_gives_the_equivalence_verdict_and_its_column() -> None:
    near = {seed: (10.0, 10.1, 10.0, 10.1) for seed in range(3)} | {1: (10.0, 9.9, 10.0, 9.9)}
    table = _report(near, margin=0.5).effects_table()
    assert table is not None and table.columns[-1] == "TOST p (±0.5)"
    # channel: contrasts +0.1, -0.1, +0.1, well inside ±0.5; spatial: 0 on every seed, the runs agree exactly
    assert table.rows[0][6].startswith("equivalent within ±0.5 (TOST p=0.0")
    assert table.rows[1][6] == "equivalent within ±0.5 (TOST p=<0.001)"


def test_incomplete_seeds_are_left_out_and_one_replicate_is_not_enough() -> None:
    report = _report({0: TOP1[0], 1: (15.0, None, 14.0, 11.5)})  # seed 1's channel-only run failed
    assert report.effects is not None and report.effects.left_out == (1,) and not report.effects.effects
    table = report.effects_table()
    assert table is not None
    assert [row[6] for row in table.rows] == ["n/a: needs 2 seeds"] * 3
    assert set(table.rows[0][2:6]) == {"—"}
    assert "1 of 2 seeds completed every run of the design and count; 1 left out (seed 1" in terminal_text(report)
    assert [figure.name for figure in report_figures(report)] == ["forest", "by_row", "cost"]


def test_json_and_files_of_a_factorial_report(tmp_path: Path) -> None:
    report = _report({**TOP1, 3: (14.0, 12.0, None, 11.0)}, effect=1.0)
    paths = write_report(report, tmp_path)
    assert [path.name for path in paths] == [*REPORT_FILES, *EFFECTS_FILES]
    payload = json.loads((tmp_path / "summary.json").read_text())["effects"]
    assert payload["seeds"] == [0, 1, 2] and payload["left_out"] == [3] and payload["generators"] == []
    channel = payload["effects"][0]
    assert channel["effect"] == "channel" and channel["levels"] == "on vs off" and channel["aliases"] == []
    assert channel["estimate"] == pytest.approx(-25 / 12) and channel["verdict"] == "better (p_Holm=0.022)"
    assert channel["tost_p"] is None and channel["seeds_for_effect"] >= 2
    assert (tmp_path / "effects.csv").read_text().splitlines()[3].startswith("channel × spatial,on·on & off·off vs")
    latex = (tmp_path / "effects.tex").read_text()
    assert "channel $\\times$ spatial & on$\\cdot$on \\& off$\\cdot$off vs" in latex and "×" not in latex
    html = (tmp_path / "report.html").read_text()
    assert "<h2>Effects</h2>" in html and "<h2>Interaction: channel × spatial</h2>" in html


def _svg_texts(path: Path) -> list[str]:
    """The text a matplotlib SVG draws as paths: each text element's string is kept in a comment before it."""
    return re.findall(r"<!-- (.*?) -->", path.read_text())


def test_effects_and_interaction_figures(tmp_path: Path) -> None:
    report = _report(TOP1, margin=0.5)
    write_report(report, tmp_path)
    names = [figure.name for figure in report_figures(report)]
    assert names[:3] == ["effects", "interaction", "forest"]
    folder = tmp_path / FIGURES_FOLDER
    assert all((folder / f"{name}.{ext}").is_file() for name in names for ext in ("png", "svg"))
    effects = _svg_texts(folder / "effects.svg")
    assert "effect on test/top1_err (high level − low level)" in effects
    assert {"channel", "spatial", "channel × spatial", "± MDD (80% power)", "equivalence band ±0.5"} <= set(effects)
    interaction = _svg_texts(folder / "interaction.svg")
    assert {"channel", "off", "on", "spatial = off", "spatial = on", "test/top1_err (mean, 95% CI over seeds)"} <= set(
        interaction
    )
    # largest effect on top: the tick labels are drawn bottom-up
    ticks = [text for text in effects if text in {"channel", "spatial", "channel × spatial"}]
    assert ticks == ["channel × spatial", "spatial", "channel"]


def test_a_fraction_shows_its_aliases() -> None:
    design = fractional_factorial(["x", "y", "z"], "III")  # 4 runs: z = ±xy, each main effect aliased with a 2fi
    runs = tuple(f"run{index}" for index in range(design.runs))
    spec = StudySpec(
        name="frac",
        profile=None,
        rows=runs,
        seeds=(0, 1, 2),
        baseline="run0",
        factorial=FactorialLayout(design, runs, {factor: ("lo", "hi") for factor in design.factors}),
    )
    rng = np.random.default_rng(0)
    records = [
        CellRecord(
            study="frac", row=row, seed=seed, metrics={"test/top1_err": float(rng.normal(10, 1))}, state="complete"
        )
        for seed in range(3)
        for row in runs
    ]
    report = build_report(LoadedStudy(spec, records, "hand-made"))
    table = report.effects_table()
    assert table is not None and table.columns[-1] == "Aliases"
    assert [row[-1] for row in table.rows] == ["y × z", "x × z", "x × y"]
    assert "2^(3−1) fraction of resolution III, 4 runs per seed, generators z = x × y: each estimate" in " ".join(
        report.notes()
    )


def test_cli_reports_the_effects_of_a_stored_factorial_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definition = load_study("cbam-gates")
    layout = factorial_layout(definition)
    assert layout is not None
    url = str(tmp_path / "attnlab.journal")
    study = optuna.create_study(study_name="cbam-gates@quick", storage=open_storage(url))
    study.set_user_attr(STUDY_DEFINITION_ATTR, definition.to_dict())
    study.set_user_attr(STUDY_PROFILE_ATTR, "quick")
    for seed, errors in TOP1.items():
        for row, error in zip(layout.run_rows, errors, strict=True):
            record = CellRecord(study="cbam-gates", row=row, seed=seed, metrics={"test/top1_err": error})
            study.add_trial(optuna.trial.create_trial(state=COMPLETE, value=error, user_attrs=record.to_user_attrs()))
    out = tmp_path / "out"
    assert attnlab(["report", "cbam-gates", "--storage", url, "-o", str(out), "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)["effects"]
    assert payload["design"] == "full factorial 2^2, 4 runs per seed: nothing aliased" and payload["seeds"] == [0, 1, 2]
    assert [row["effect"] for row in payload["effects"]] == [
        "channel gate",
        "spatial gate",
        "channel gate × spatial gate",
    ]
    assert payload["effects"][0]["levels"] == "channel on vs channel off"
    assert payload["effects"][0]["estimate"] == pytest.approx(-25 / 12)
    assert (out / "effects.tex").is_file() and (out / FIGURES_FOLDER / "interaction.svg").is_file()
