"""``attnlab studies``: the listing, one study's rows, ``--json`` for scripts, ``--check`` and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attnlab.ablations import StudyDefinition, builtin_studies, load_study
from attnlab.cli.main import main

MALFORMED = Path(__file__).parent / "malformed_studies"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps at the terminal width; a wide one keeps row names on one line."""
    monkeypatch.setenv("COLUMNS", "250")


def test_listing_shows_every_study_with_its_size_and_the_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["studies"]) == 0
    out = capsys.readouterr().out
    for name in builtin_studies():
        assert name in out
    assert "4 × 3" in out and "19 × 3" in out
    assert "CBAM paper (Woo et al., ECCV 2018), Table 3" in out
    for profile in ("quick", "cifar100", "imagenet"):
        assert profile in out


def test_one_study_shows_rows_patches_and_paper_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["studies", "cbam-backbones"]) == 0
    out = capsys.readouterr().out
    assert "ResNeXt-50 (32x4d) + CBAM" in out
    assert "model.backbone.name=resnext50_32x4d" in out
    assert "22.66" in out and "6.31" in out and "3.864" in out
    assert "27" in out  # 9 rows × 3 seeds


def test_json_is_the_definitions_for_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["studies", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert set(listing["studies"]) == set(builtin_studies())
    assert set(listing["profiles"]) == {"quick", "cifar100", "imagenet"}
    assert StudyDefinition.from_dict(listing["studies"]["design-space"]) == load_study("design-space")
    assert main(["studies", "bam-combine", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["baseline"] == "ResNet + BAM (sum)"


def test_check_validates_every_row_under_a_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["studies", "bam-combine", "--check", "--set", "trainer.max_epochs=1"]) == 0
    assert "every row of 1 study validates under profile 'quick'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["studies", "cbam-arangement"], "study: 'cbam-arangement' is neither a built-in"),
        (["studies", str(MALFORMED / "seeds-negative.yaml")], "seeds: -1 is not a seed"),
        (["studies", "bam-combine", "--set", "trainer.max_epochs=1"], "--profile and --set: only apply with --check"),
        (["studies", "bam-combine", "--check", "--set", "trainer.max_epochs"], "expected KEY=VALUE"),
        (["studies", "bam-combine", "--check", "--profile", "laptop"], "profile: 'laptop' is neither a built-in"),
        (
            ["studies", "bam-combine", "--check", "--set", "model.attention.reduction=0"],
            "bam-combine.yaml: --set: model.attention.reduction: must be a positive integer",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("attnlab studies: error: ") and message in err


def test_check_shows_a_fractions_runs_generators_and_aliases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = tmp_path / "fraction.yaml"
    study.write_text(
        "name: fraction\ndescription: three axes in four runs\naxes:\n"
        "  reduction: {r=16: {model.attention.reduction: 16}, r=4: {model.attention.reduction: 4}}\n"
        "  kernel: {k=7: {model.attention.kernel_size: 7}, k=3: {model.attention.kernel_size: 3}}\n"
        "  bias: {bias: {model.attention.mlp_bias: true}, no bias: {model.attention.mlp_bias: false}}\n"
        "design: fractional\nresolution: III\nseeds: [0, 1, 2]\nbaseline: r=16, k=7, no bias\n",
        encoding="utf-8",
    )
    assert main(["studies", str(study), "--check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "  design       2^(3−1) fractional factorial of resolution III: 4 runs" in lines
    assert "  cells        4 per seed × 3 seeds = 12" in lines
    assert "  generators   bias = reduction × kernel" in lines
    runs = [line.split() for line in lines if line.strip()[:1].isdigit()]
    assert [run[0] for run in runs] == ["1", "2", "3", "4"] and runs[0][-4:] == ["r=16", "k=7", "no", "bias"]
    assert any(line.split() == ["reduction", "kernel", "×", "bias"] for line in lines)
    assert main(["studies", str(study), "--check", "--format", "json"]) == 0
    check = json.loads(capsys.readouterr().out)["check"]
    assert check["aliases"] == {
        "reduction": ["kernel × bias"],
        "kernel": ["reduction × bias"],
        "bias": ["reduction × kernel"],
        "reduction × kernel": ["bias"],
        "reduction × bias": ["kernel"],
        "kernel × bias": ["reduction"],
    }
    assert [run["levels"] for run in check["runs"]][1] == {"reduction": "r=16", "kernel": "k=3", "bias": "bias"}
    assert (check["cells_per_seed"], check["clear_interactions"]) == (4, [])


def test_check_of_a_one_at_a_time_study_lists_its_rows_and_baselines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["studies", "cbam-backbones", "--check", "--format", "json"]) == 0
    check = json.loads(capsys.readouterr().out)["check"]
    assert check["design"] == "one-at-a-time" and check["cells"] == 27
    assert {"row": "ResNet-18 + SE", "compared_to": "ResNet-18"} in check["runs"]
    assert main(["studies", "cbam-gates", "--check"]) == 0
    out = capsys.readouterr().out
    assert "full factorial 2^2: 4 runs, nothing aliased" in out and "clear 2fi    channel gate × spatial gate" in out
