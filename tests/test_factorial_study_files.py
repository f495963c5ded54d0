"""Factorial designs in study files: the runs, their aliasing, the row of each run, and stored studies old and new."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attnlab.ablations import StudyDefinition, load_study
from attnlab.ablations.factorial import design_responses, design_summary, factorial_layout
from attnlab.errors import ConfigError
from attnlab.stats.designs import effect_contrasts

FRACTION = """\
name: tiny-fraction
description: three two-level axes in half the runs
axes:
  model.attention.reduction: [16, 4]
  model.attention.kernel_size: [7, 3]
  model.attention.mlp_bias: [true, false]
design: fractional
resolution: III
seeds: [0, 1]
baseline: "reduction=16, kernel_size=7, mlp_bias=false"
"""
R, K, B = "model.attention.reduction", "model.attention.kernel_size", "model.attention.mlp_bias"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_half_fraction_has_the_runs_and_aliases_worked_out_by_hand(tmp_path: Path) -> None:
    """2^(3−1) with c = ab: the runs are (−,−,+), (−,+,−), (+,−,−), (+,+,+); each main effect is aliased with
    the interaction of the other two."""
    study = load_study(_write(tmp_path, FRACTION))
    assert list(study.rows) == [
        "reduction=16, kernel_size=7, mlp_bias=false",
        "reduction=16, kernel_size=3, mlp_bias=true",
        "reduction=4, kernel_size=7, mlp_bias=true",
        "reduction=4, kernel_size=3, mlp_bias=false",
    ]
    assert study.levels == {R: (16, 4), K: (7, 3), B: (True, False)}
    layout = factorial_layout(study)
    assert layout is not None
    assert layout.run_rows == tuple(study.rows)
    assert layout.levels == {R: ("16", "4"), K: ("7", "3"), B: ("true", "false")}
    np.testing.assert_array_equal(layout.design.matrix, [[-1, -1, 1], [-1, 1, -1], [1, -1, -1], [1, 1, 1]])
    assert layout.design.generators == ("c = ab",)
    summary = design_summary(study)
    assert summary["aliases"][R] == [f"{K} × {B}"]
    assert summary["aliases"][f"{R} × {K}"] == [B]
    assert summary["clear_interactions"] == []
    assert summary["generators"] == [f"{B} = {R} × {K}"]
    assert (summary["cells_per_seed"], summary["cells"]) == (4, 8)


def test_responses_give_the_contrasts_worked_out_by_hand(tmp_path: Path) -> None:
    layout = factorial_layout(load_study(_write(tmp_path, FRACTION)))
    assert layout is not None
    metric = dict(zip(layout.run_rows, [10.0, 12.0, 14.0, 20.0], strict=True))
    missing = (layout.run_rows[2], 1)  # seed 1 lacks a run: it gives no replicate

    def value(row: str, seed: int) -> float | None:
        return None if (row, seed) == missing else metric[row] + seed

    responses, seeds = design_responses(layout, value, [0, 1, 2])
    assert seeds == (0, 2)
    np.testing.assert_array_equal(responses, [[10, 12, 14, 20], [12, 14, 16, 22]])
    # a: (14 + 20)/2 − (10 + 12)/2 = 6; b: (12 + 20)/2 − (10 + 14)/2 = 4; c: (10 + 20)/2 − (12 + 14)/2 = 2
    np.testing.assert_allclose(effect_contrasts(layout.design, ["a", "b", "c"], responses), [[6, 4, 2], [6, 4, 2]])


def test_a_full_design_keeps_the_product_order_and_maps_each_run_to_its_row(tmp_path: Path) -> None:
    text = FRACTION.replace("design: fractional\nresolution: III\n", "design: full\n")
    study = load_study(_write(tmp_path, text.replace("mlp_bias=false", "mlp_bias=true")))
    assert len(study.rows) == 8 and list(study.rows)[1] == "reduction=16, kernel_size=7, mlp_bias=false"
    layout = factorial_layout(study)
    assert layout is not None and layout.design.kind == "full"
    for row, run in zip(layout.run_rows, layout.design.matrix, strict=True):
        axes = study.rows[row].axes
        assert [study.levels[axis].index(axes[axis]) for axis in (R, K, B)] == [int(code > 0) for code in run]
    assert design_summary(study)["clear_interactions"] == [f"{R} × {K}", f"{R} × {B}", f"{K} × {B}"]


def test_an_axes_study_without_design_stays_one_at_a_time(tmp_path: Path) -> None:
    text = FRACTION.replace("design: fractional\nresolution: III\n", "")
    study = load_study(_write(tmp_path, text.replace("mlp_bias=false", "mlp_bias=true")))
    assert study.design == "one-at-a-time" and not study.factorial and study.levels == {}
    assert len(study.rows) == 8 and factorial_layout(study) is None
    assert design_summary(study)["runs"][1] == {
        "row": "reduction=16, kernel_size=7, mlp_bias=false",
        "compared_to": "reduction=16, kernel_size=7, mlp_bias=true",
    }


def test_stored_studies_round_trip_and_old_ones_load_as_one_at_a_time(tmp_path: Path) -> None:
    study = load_study(_write(tmp_path, FRACTION))
    stored = study.to_dict()
    assert (stored["design"], stored["resolution"], stored["levels"][B]) == ("fractional", "III", [True, False])
    assert StudyDefinition.from_dict(stored) == study
    old = load_study("cbam-spatial").to_dict()
    for key in ("design", "resolution", "levels"):
        del old[key]  # as stored before designs existed
    assert StudyDefinition.from_dict(old) == load_study("cbam-spatial")
    with pytest.raises(ConfigError, match=r"unknown keys \['runs'\]"):
        StudyDefinition.from_dict(old | {"runs": 4})


def test_a_stored_factorial_study_whose_rows_are_not_its_runs_is_refused(tmp_path: Path) -> None:
    stored = load_study(_write(tmp_path, FRACTION)).to_dict()
    stored["rows"].pop("reduction=4, kernel_size=3, mlp_bias=false")
    tampered = StudyDefinition.from_dict(stored)
    with pytest.raises(ConfigError, match=r"has no row for the design's run .*reduction=4.*kernel_size=3") as refused:
        factorial_layout(tampered)
    assert "\n" not in str(refused.value)
    stored = load_study(_write(tmp_path, FRACTION)).to_dict()
    stored["levels"][R] = [16, 16]
    with pytest.raises(ConfigError, match="needs two distinct levels on each axis"):
        StudyDefinition.from_dict(stored)
