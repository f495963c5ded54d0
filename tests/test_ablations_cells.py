"""Study definitions without training: cells, axes products, override layering, round trips, ``--set`` parsing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from attnlab.ablations import Cell, StudyDefinition, load_study, parse_set_options
from attnlab.ablations.overrides import flatten_overrides, layer_overrides
from attnlab.errors import ConfigError


def write_study(folder: Path, **fields: Any) -> Path:
    """A valid two-row study with ``fields`` replacing or adding keys."""
    study: dict[str, Any] = {
        "name": "tiny",
        "description": "two designs",
        "base": {"model.attention.type": "cbam", "trainer.max_epochs": 2},
        "rows": {
            "plain": {"patch": {"model.attention.type": "none"}, "paper": {"top1_err": 24.56}},
            "cbam": {},
        },
        "seeds": [0, 1],
        "baseline": "plain",
        **fields,
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_cells_are_every_row_at_every_seed_seed_by_seed(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path, seeds=[7, 3, 5]))
    cells = study.cells()
    assert [cell.name for cell in cells] == [
        "plain/seed7",
        "cbam/seed7",
        "plain/seed3",
        "cbam/seed3",
        "plain/seed5",
        "cbam/seed5",
    ]
    assert all(isinstance(cell, Cell) and cell.study == "tiny" for cell in cells)
    assert cells == study.cells(), "the order is deterministic"


def test_overrides_layer_base_then_row_then_set_then_seed(tmp_path: Path) -> None:
    study = load_study(
        write_study(
            tmp_path,
            base={"model": {"attention": {"type": "cbam", "reduction": 8}}, "trainer.max_epochs": 2},
            rows={"r4": {"patch": {"model.attention.reduction": 4, "data.batch_size": 32}}},
            baseline="r4",
        )
    )
    cell = study.cells(parse_set_options(["data.batch_size=256", "trainer.max_epochs=5"]))[0]
    assert cell.overrides == {
        "model.attention.type": "cbam",  # base only
        "model.attention.reduction": 4,  # the row beats the base
        "data.batch_size": 256,  # --set beats the row
        "trainer.max_epochs": 5,  # --set beats the base
        "seed_everything": 0,
    }
    # Argument order follows the layers, so jsonargparse applies the winner last.
    assert list(cell.overrides)[-3:] == ["data.batch_size", "trainer.max_epochs", "seed_everything"]


def test_a_later_whole_value_replaces_the_earlier_subtree() -> None:
    merged = layer_overrides(
        [{"model.attention.reduction": 8, "model.attention.type": "cbam"}, {"model.attention": None}]
    )
    assert merged == {"model.attention": None}


def test_axes_product_names_rows_and_records_axis_values(tmp_path: Path) -> None:
    study = load_study(
        write_study(
            tmp_path,
            rows={"ResNet (no attention)": {"patch": {"model.attention.type": "none"}}},
            axes={
                "model.attention.reduction": [4, 16],
                "pooling": {
                    "avg": {"model.attention.channel_pool": ["avg"]},
                    "both": {"model": {"attention": {"channel_pool": ["avg", "max"]}}},
                },
            },
            baseline="ResNet (no attention)",
            paper={"reduction=16, both": {"top1_err": 22.66, "top5_err": 6.31}},
        )
    )
    assert list(study.rows) == [
        "ResNet (no attention)",
        "reduction=4, avg",
        "reduction=4, both",
        "reduction=16, avg",
        "reduction=16, both",
    ]
    row = study.rows["reduction=16, both"]
    assert row.patch == {"model.attention.reduction": 16, "model.attention.channel_pool": ["avg", "max"]}
    assert row.axes == {"model.attention.reduction": 16, "pooling": "both"}
    assert study.rows["ResNet (no attention)"].axes == {"model.attention.type": "none"}
    assert study.paper["reduction=16, both"] == {"top1_err": 22.66, "top5_err": 6.31}
    assert len(study.cells()) == 5 * 2


def test_empty_labels_drop_out_of_names_and_baselines_follow_compare_within(tmp_path: Path) -> None:
    study = load_study(
        write_study(
            tmp_path,
            rows=None,
            axes={
                "backbone": {
                    "ResNet-18": {"model.backbone.name": "resnet18"},
                    "ResNet-50": {"model.backbone.name": "resnet50"},
                },
                "attention": {"": {"model.attention.type": "none"}, "CBAM": {"model.attention.type": "cbam"}},
            },
            row_separator=" + ",
            baseline="ResNet-50",
            compare_within=["backbone"],
        )
    )
    assert list(study.rows) == ["ResNet-18", "ResNet-18 + CBAM", "ResNet-50", "ResNet-50 + CBAM"]
    assert study.baseline_for("ResNet-18 + CBAM") == "ResNet-18"
    assert study.baseline_for("ResNet-50 + CBAM") == "ResNet-50"
    assert study.baseline_for("ResNet-18") == "ResNet-18"


def test_without_compare_within_every_row_has_the_one_baseline(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path))
    assert {study.baseline_for(row) for row in study.rows} == {"plain"}


def test_round_trip_through_json_is_exact(tmp_path: Path) -> None:
    study = load_study(
        write_study(tmp_path, tags=["cbam"], reference="CBAM Table 3", axes={"model.attention.kernel_size": [3, 7]})
    )
    stored = json.loads(json.dumps(study.to_dict()))
    assert StudyDefinition.from_dict(stored) == study
    assert stored["source"] == str(tmp_path / "study.yaml")
    assert stored["rows"]["kernel_size=3"] == {
        "patch": {"model.attention.kernel_size": 3},
        "axes": {"model.attention.kernel_size": 3},
    }


def test_from_dict_rejects_an_incomplete_definition(tmp_path: Path) -> None:
    stored = load_study(write_study(tmp_path)).to_dict()
    del stored["metric"]
    with pytest.raises(ConfigError, match=r"missing keys \['metric'\]"):
        StudyDefinition.from_dict(stored)


def test_direction_defaults_to_the_metrics_own(tmp_path: Path) -> None:
    assert load_study(write_study(tmp_path, metric="test/top1_acc")).direction == "maximize"
    assert load_study(write_study(tmp_path)).direction == "minimize"


def test_parse_set_options_reads_yaml_values() -> None:
    parsed = parse_set_options(
        ["a.b=3", "c=[1,2]", "model.attention.type=se", "x=true", "y=null", "lr=1e-3", "s='007'", "d={k: 1}"]
    )
    assert parsed == {
        "a.b": 3,
        "c": [1, 2],
        "model.attention.type": "se",
        "x": True,
        "y": None,
        "lr": 1e-3,
        "s": "007",
        "d": {"k": 1},
    }


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["batch_size"], "expected KEY=VALUE"),
        (["=3"], "is not a config key"),
        (["model..type=se"], "is not a config key"),
        (["a=1", "a=2"], "given twice"),
        (["a=[1, 2"], "is not a YAML value"),
    ],
)
def test_parse_set_options_rejects_bad_items_in_one_line(items: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        parse_set_options(items)
    assert "\n" not in str(error.value)


def test_set_cannot_override_the_cells_seed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--set seed_everything"):
        load_study(write_study(tmp_path)).cells(parse_set_options(["seed_everything=3"]))


def test_a_nested_set_value_flattens_into_fields() -> None:
    assert flatten_overrides({"model.attention": {"type": "se", "reduction": 4}}, "--set") == {
        "model.attention.type": "se",
        "model.attention.reduction": 4,
    }


def test_study_values_read_exponents_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(
        "name: lr\ndescription: d\nrows: {a: {patch: {model.optimizer.lr: 1e-3}}}\nseeds: [0]\nbaseline: a\n",
        encoding="utf-8",
    )
    assert load_study(path).rows["a"].patch == {"model.optimizer.lr": 0.001}
