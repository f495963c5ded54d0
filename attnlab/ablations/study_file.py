"""The study file format (YAML), read strictly: every mistake is one line naming the key (and row) at fault.

A study is a table to fill: rows (designs) × seeds, each cell one training run under a profile::

    name: cbam-arrangement                  # required; lower-case letters, digits, - and _ (names the Optuna study)
    description: Sequential vs parallel ... # required, one line
    reference: CBAM paper, Table 3 ...      # optional: where the paper numbers below come from
    tags: [cbam, arrangement]               # optional
    base:                                   # optional: overrides on the profile for every row
      model.attention.type: cbam            #   dotted keys, or nested mappings (model: {attention: ...})
    rows:                                   # named rows, in table order: name -> patch (+ paper numbers)
      ResNet (no attention):
        patch: {model.attention.type: none}
        paper: {top1_err: 24.56, top5_err: 7.50}     # columns: top1_err, top5_err, params_m, gflops
      ResNet + channel → spatial:
        patch: {model.attention.arrangement: channel_first}
    axes:                                   # optional: rows from the Cartesian product of the axes
      model.attention.reduction: [4, 16]    #   a config key and its values -> labels "reduction=4", ...
      backbone:                             #   or a named axis: label -> patch
        ResNet-18: {model.backbone.name: resnet18}
        ResNet-50: {model.backbone.name: resnet50}
    row_separator: ", "                     # optional: joins the axis labels into a row name; "" labels
                                            #   are left out (a plain backbone: "ResNet-18", "ResNet-18 + SE")
    paper:                                  # optional: paper numbers for any row, e.g. rows made by axes
      "reduction=16, ResNet-50": {top1_err: 22.66}
    seeds: [0, 1, 2]                        # required
    metric: test/top1_err                   # optional (this default); any logged metric
    direction: minimize                     # optional: the metric's own direction, checked if given
    baseline: ResNet (no attention)         # required: the row the others are compared to
    compare_within: [backbone]              # optional: compare each row to the baseline's row on its
                                            #   own values of these axes (each backbone to itself)
    design: full                            # optional: how the axes' rows are analysed (below)
    resolution: IV                          # with design: fractional only: III, IV or V

``design`` is ``one-at-a-time`` by default: the rows (named, and the product of the axes) are compared one by
one with the baseline. ``full`` makes the product of two-level axes a full factorial, and ``fractional`` the
smallest fraction of that ``resolution`` (pyDOE), whose runs are then the rows; both are analysed as effects,
each axis's first level coded low (−1) and its second high (+1). A factorial study has axes and no named rows,
and an axis that changes nothing at one level of another (a spatial kernel size with the spatial gate off) is
refused (:mod:`attnlab.ablations.crossing`).

Named rows come first, then the axis rows. A row's axes are its patch (named rows) or its values
on each axis (``{"model.attention.reduction": 4, "backbone": "ResNet-18"}``); reports and W&B
tags use them. Keys are checked against the train config only when the study is validated
against a profile (:func:`attnlab.ablations.validate_study`).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from attnlab.ablations.crossing import check_crossings
from attnlab.ablations.definition import (
    FACTORIAL_DESIGNS,
    METRIC_DIRECTIONS,
    ONE_AT_A_TIME,
    RESOLUTIONS,
    RowSpec,
    StudyDefinition,
)
from attnlab.ablations.overrides import check_key, flatten_overrides, format_value
from attnlab.ablations.yaml_input import check_known_keys, read_yaml
from attnlab.errors import ConfigError
from attnlab.safe_paths import check_path_name

REQUIRED_KEYS: tuple[str, ...] = ("name", "description", "seeds", "baseline")
OPTIONAL_KEYS: tuple[str, ...] = (
    "reference",
    "tags",
    "base",
    "rows",
    "axes",
    "row_separator",
    "paper",
    "metric",
    "direction",
    "compare_within",
    "design",
    "resolution",
)
ROW_KEYS: tuple[str, ...] = ("patch", "paper")
DEFAULT_METRIC = "test/top1_err"


def _expect(where: str, value: Any, kind: type | tuple[type, ...], example: str) -> Any:
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: expected {example}, got {type(value).__name__} {value!r}")
    return value


def _named_rows(rows: Any) -> tuple[dict[str, RowSpec], dict[str, Any]]:
    """Named rows and the paper numbers given inline with them."""
    specs: dict[str, RowSpec] = {}
    paper: dict[str, Any] = {}
    for row, body in _expect("rows", rows, dict, "a mapping of row name -> {patch: ..., paper: ...}").items():
        where = f"row {row!r}"
        body = _expect(where, {} if body is None else body, dict, "a mapping with patch and/or paper")
        check_known_keys(f"{where}: ", body, ROW_KEYS)
        patch = flatten_overrides(body.get("patch"), f"{where}: patch")
        specs[row] = RowSpec(patch=patch, axes=dict(patch))
        if "paper" in body:
            paper[row] = body["paper"]
    return specs, paper


def _axis_points(axis: Any, values: Any) -> list[tuple[str, dict[str, Any], Any]]:
    """(label, patch, axis value) for each point of one axis."""
    where = f"axes: {axis}"
    if isinstance(values, list):
        key = check_key(axis, "axes")
        points = [(f"{key.rsplit('.', 1)[-1]}={format_value(value)}", {key: value}, value) for value in values]
    elif isinstance(values, dict):
        points = [
            (_expect(where, label, str, "text labels"), flatten_overrides(patch, f"{where}: {label!r}"), label)
            for label, patch in values.items()
        ]
    else:
        raise ConfigError(f"{where}: expected a list of values or a mapping of label -> patch, got {values!r}")
    if not points:
        raise ConfigError(f"{where}: is empty; give at least one value")
    labels = [label for label, _, _ in points]
    for label in labels:
        if labels.count(label) > 1:
            raise ConfigError(f"{where}: {label!r} appears twice; list each value once")
    return points


Point = tuple[str, dict[str, Any], Any]  # an axis point: its label, its patch, its value in RowSpec.axes


def _axis_row(names: list[str], combination: tuple[Point, ...], separator: str) -> tuple[str, RowSpec]:
    """The row of one point of each axis, named by their labels joined with ``separator``."""
    patch: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for axis, (_, point_patch, _) in zip(names, combination, strict=True):
        for key, value in point_patch.items():
            if key in patch:
                raise ConfigError(f"axes: {owner[key]!r} and {axis!r} both set {key}; let one axis own it")
            patch[key], owner[key] = value, axis
    name = separator.join(label for label, _, _ in combination if label)
    return name, RowSpec(
        patch=patch, axes={axis: value for axis, (_, _, value) in zip(names, combination, strict=True)}
    )


def _axis_rows(
    points: dict[str, list[Point]], combinations: list[tuple[int, ...]], separator: str
) -> dict[str, RowSpec]:
    """One row per combination of axis points, each a level index per axis (the product, or a fraction's runs)."""
    rows: dict[str, RowSpec] = {}
    for combination in combinations:
        chosen = tuple(axis_points[level] for axis_points, level in zip(points.values(), combination, strict=True))
        name, spec = _axis_row(list(points), chosen, separator)
        if name in rows:
            raise ConfigError(f"axes: two rows are both named {name!r}; give the axis points distinct labels")
        rows[name] = spec
    return rows


def _design_combinations(points: dict[str, list[Point]], design: str, resolution: Any) -> list[tuple[int, ...]]:
    """The level index of each axis in each row: every combination, or a fractional design's runs in its order."""
    if not points:
        return []
    if design != "fractional":
        return list(itertools.product(*(range(len(axis_points)) for axis_points in points.values())))
    from attnlab.stats.designs import fractional_factorial

    return [tuple(int(code > 0) for code in run) for run in fractional_factorial(list(points), resolution).matrix]


def _check_factorial(design: str, raw: dict[str, Any], points: dict[str, list[Point]]) -> None:
    """A factorial design is over two or more axes of exactly two levels each, with no named rows."""
    if raw.get("rows"):
        raise ConfigError(f"rows: a study with design: {design} has the runs of its axes as rows; drop the named rows")
    if len(points) < 2:
        raise ConfigError(f"axes: design: {design} needs at least 2 axes, got {len(points)}")
    if design == "fractional" and "resolution" not in raw:
        raise ConfigError(f"resolution: missing; design: fractional needs one of {', '.join(RESOLUTIONS)}")
    for axis, axis_points in points.items():
        if len(axis_points) != 2:
            raise ConfigError(
                f"axes: {axis} has {len(axis_points)} levels; design: {design} needs exactly two per axis "
                "(low, then high); use design: one-at-a-time for more"
            )


def _paper_numbers(inline: dict[str, Any], section: Any) -> dict[str, Any]:
    section = _expect("paper", {} if section is None else section, dict, "a mapping of row name -> numbers")
    for row in section:
        if row in inline:
            raise ConfigError(f"row {row!r}: paper numbers are given both in the row and under paper; keep one")
    return inline | section


def parse_study(raw: Any, source: Path | None = None) -> StudyDefinition:
    """A study from the YAML document's data (see the module docstring for the format)."""
    if not isinstance(raw, dict):  # not quoted: the file may be anything (a symlink to a system file)
        raise ConfigError(
            f"is not a study: expected a mapping of study keys (name, description, rows, seeds, baseline, ...), "
            f"got {type(raw).__name__}"
        )
    check_known_keys("", raw, REQUIRED_KEYS + OPTIONAL_KEYS)
    for key in REQUIRED_KEYS:
        if key not in raw:
            raise ConfigError(f"{key}: missing; a study needs {', '.join(REQUIRED_KEYS)}")
    if "rows" not in raw and "axes" not in raw:
        raise ConfigError("rows: missing; give named rows, axes, or both")
    rows, inline_paper = _named_rows(raw.get("rows") or {})
    separator = _expect("row_separator", raw.get("row_separator", ", "), str, "text such as ', ' or ' + '")
    axes = _expect("axes", raw.get("axes") or {}, dict, "a mapping of axis -> values")
    points = {axis: _axis_points(axis, values) for axis, values in axes.items()}
    design = raw.get("design", ONE_AT_A_TIME)
    if design in FACTORIAL_DESIGNS:
        _check_factorial(design, raw, points)
    elif "resolution" in raw:
        raise ConfigError(f"resolution: only applies to design: fractional (got design: {design})")
    combinations = _design_combinations(points, design, raw.get("resolution"))
    axis_rows = _axis_rows(points, combinations, separator)
    if design in FACTORIAL_DESIGNS:
        levels = {axis: [(label, patch) for label, patch, _ in axis_points] for axis, axis_points in points.items()}
        check_crossings(flatten_overrides(raw.get("base"), "base"), levels, combinations)
    for name, spec in axis_rows.items():
        if name in rows:
            raise ConfigError(f"axes: row {name!r} is also a named row; rename one")
        rows[name] = spec
    if isinstance(raw["name"], str):
        check_path_name("name", raw["name"])  # it names the study's folders: runs/STUDY, runs/reports/STUDY
    for name in rows:
        if isinstance(name, str) and name.strip() == name and "/" not in name:
            check_path_name(f"rows: {name[:60]!r}", name)  # each row names a folder of its cells' logs
    metric = _expect("metric", raw.get("metric", DEFAULT_METRIC), str, "a metric name such as test/top1_err")
    return StudyDefinition(
        name=raw["name"],
        description=raw["description"],
        base=raw.get("base") or {},
        rows=rows,
        seeds=raw["seeds"],
        metric=metric,
        direction=raw.get("direction", METRIC_DIRECTIONS.get(metric, "minimize")),
        baseline=raw["baseline"],
        paper=_paper_numbers(inline_paper, raw.get("paper")),
        source=source,
        reference=raw.get("reference", ""),
        tags=raw.get("tags", ()),
        compare_within=raw.get("compare_within", ()),
        design=design,
        resolution=raw.get("resolution"),
        levels={axis: (low[2], high[2]) for axis, (low, high) in points.items()} if design in FACTORIAL_DESIGNS else {},
    )


def read_study_file(path: Path) -> StudyDefinition:
    """Reads and validates one study file; every error is one line starting with the file's path."""
    try:
        return parse_study(read_yaml(path), source=path)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
