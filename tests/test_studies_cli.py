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
