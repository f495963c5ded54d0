"""``attnlab describe`` through the real dispatcher: JSON numbers, generated flags, paper table, one-line errors."""

from __future__ import annotations

import dataclasses
import json

import pytest

from attnlab.cli.main import main
from attnlab.modules import AttentionDesign, BackboneConfig


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["describe", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, out, err = _run(capsys, *argv, "--json")
    assert (code, err) == (0, "")
    return json.loads(out)


def test_json_has_the_totals_and_the_resolved_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--backbone", "resnet50", "--attention", "cbam")
    assert (data["params"], data["macs"]) == (28_089_608, 3_864_362_102)
    assert round(data["gmacs"], 3) == 3.864
    assert data["backbone"] == BackboneConfig(name="resnet50").to_dict()
    assert data["attention"] == AttentionDesign(type="cbam").to_dict()
    assert (data["num_classes"], data["in_channels"], data["image_size"]) == (1000, 3, 224)
    assert sum(line["params"] for line in data["breakdown"]) == data["params"]


def test_attention_flags_change_the_counts(capsys: pytest.CaptureFixture[str]) -> None:
    base = _json(capsys, "--attention", "cbam")
    assert base["params"] - _json(capsys, "--kernel-size", "3")["params"] == 8 * 2 * (49 - 9)
    channel_only = _json(capsys, "--no-spatial", "--channel-pool", "avg")
    assert channel_only["attention"]["spatial"] is False and channel_only["params"] == 11_778_592  # = SE
    parallel = _json(capsys, "--arrangement", "parallel", "--combine", "max", "--residual")
    assert (parallel["attention"]["combine"], parallel["attention"]["residual"]) == ("max", True)


def test_families_and_the_wide_resnet18_are_counted(capsys: pytest.CaptureFixture[str]) -> None:
    eca = _json(capsys, "--attention", "eca", "--channel-kernel-size", "5")
    assert eca["attention"]["channel_kernel_size"] == 5 and eca["parts"]["attention"]["params"] == 8 * 5
    assert _json(capsys, "--attention", "simam")["parts"]["attention"]["params"] == 0
    wide = _json(capsys, "--backbone", "wide_resnet18", "--widen-factor", "1.5", "--attention", "none")
    assert (wide["params"], round(wide["gmacs"], 3), wide["backbone"]["widen_factor"]) == (25_875_816, 3.866, 1.5)


def test_model_flags(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(
        capsys, "--backbone", "mobilenet_v1", "--stem", "cifar", "--width", "0.5", "--num-classes", "10",
        "--in-channels", "1", "--image-size", "28", "--attention", "none",
    )  # fmt: skip
    assert data["backbone"]["width"] == 0.5 and data["attention"]["type"] == "none"
    assert data["parts"]["attention"] == {"params": 0, "macs": 0}
    assert (
        round(_json(capsys, "--backbone", "resnet50", "--attention", "none", "--stride-placement", "v1.5")["gmacs"], 3)
        == 4.089
    )


def test_every_design_and_backbone_field_is_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["describe", "--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    renamed = {"type": "attention", "name": "backbone"}
    for cls in (AttentionDesign, BackboneConfig):
        for field in dataclasses.fields(cls):
            assert "--" + renamed.get(field.name, field.name).replace("_", "-") in help_text, field.name
    assert "--no-mlp-bias" in help_text and "--table" in help_text


def test_table_prints_params_and_gmacs_per_module_type(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--backbone", "resnet18", "--attention", "se")
    assert code == 0
    assert "11,778,592" in out and "1.8142" in out and "89,080" in out
    assert "attention adds 89,080 params (+0.76%)" in out
    assert "se: SE (Hu et al. 2018)" in out


def test_paper_table_shows_every_row_matching(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--table", "paper")
    assert code == 0
    for architecture, params, gmacs in [("ResNet-50 + CBAM", "28.09M", "3.864"), ("ResNet-18 + SE", "11.78M", "1.814")]:
        line = next(line for line in out.splitlines() if architecture in line)
        assert line.count(params) == 2 and line.count(gmacs) == 2 and line.rstrip().endswith("yes")
    assert out.count("yes") == 24 and "4.089" in out
    assert "WideResNet-18 (widen=1.5)" in out and "ResNeXt-101 (32x4d) + CBAM" in out


def test_paper_table_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(capsys, "--table", "paper")["rows"]
    assert len(rows) == 24 and all(row["match"] for row in rows)
    assert {row["widen_factor"] for row in rows if row["backbone"] == "wide_resnet18"} == {1.5, 2.0}
    assert rows[0]["params"] == 11_689_512


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--kernel-size", "4"], "kernel_size"),
        (["--reduction", "abc"], "--reduction"),
        (["--combine", "max"], "combine"),
        (["--channel-pool", "median"], "--channel-pool"),
        (["--attention", "fca"], "--attention"),
        (["--backbone", "resnet18", "--widen-factor", "3"], "backbone.widen_factor"),
        (["--backbone", "wide_resnet18", "--widen-factor", "0"], "backbone.widen_factor"),
        (["--attention", "eca", "--channel-kernel-size", "4"], "channel_kernel_size"),
        (["--attention", "cbam", "--channel-kernel-size", "5"], "channel_kernel_size"),
        (["--attention", "coord", "--arrangement", "parallel"], "attention.arrangement"),
        (["--backbone", "resnet20"], "--backbone"),
        (["--width", "0"], "backbone.width"),
        (["--image-size", "0"], "image_size"),
        (["--backbone", "mobilenet_v1", "--width", "0.1"], "attention.reduction"),
        (["--table", "paper", "--backbone", "resnet50"], "--backbone"),
        (["--frobnicate"], "--frobnicate"),
    ],
)
def test_bad_values_are_one_line_errors_with_exit_code_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], field: str
) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("attnlab describe: error: ") and field in err
