"""Built-in studies: they load, validate under every profile, train distinct designs, keep the paper's numbers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from attnlab.ablations import builtin_profiles, builtin_studies, load_study, profile_path, validate_study
from attnlab.ablations.factorial import design_summary, factorial_layout
from attnlab.errors import ConfigError

EXPECTED_STUDIES = {
    "cbam-channel-pooling",
    "cbam-spatial",
    "cbam-arrangement",
    "cbam-backbones",
    "bam-dilation",
    "bam-reduction",
    "bam-combine",
    "bam-vs-cbam",
    "design-space",
    "attention-families",
    "cbam-gates",
    "cbam-factorial",
    "cbam-cifar",
}


def test_every_named_study_and_profile_ships() -> None:
    assert set(builtin_studies()) == EXPECTED_STUDIES
    assert set(builtin_profiles()) == {"quick", "cifar100", "imagenet"}
    for name, path in builtin_studies().items():
        assert load_study(name).name == name == path.stem


@pytest.mark.parametrize("name", sorted(EXPECTED_STUDIES))
def test_every_row_validates_under_quick_and_trains_its_own_design(name: str) -> None:
    """Validation resolves each row's config; no two rows of a study may train the same thing."""
    study = load_study(name)
    resolved = validate_study(study, "quick")
    assert list(resolved) == list(study.rows)
    designs = {json.dumps({**config, "seed_everything": None}, sort_keys=True) for config in resolved.values()}
    assert len(designs) == len(study.rows), "two rows resolve to the same train config"


@pytest.mark.parametrize("profile", ["cifar100", "imagenet"])
@pytest.mark.parametrize("name", ["cbam-arrangement", "cbam-backbones", "bam-vs-cbam", "attention-families"])
def test_studies_validate_under_the_full_profiles_without_their_data(name: str, profile: str) -> None:
    resolved = validate_study(load_study(name), profile)
    assert all(config["trainer"]["max_epochs"] in (90, 200) for config in resolved.values())


def attention_of(config: dict[str, Any]) -> dict[str, Any]:
    return config["model"]["attention"]


def test_cbam_arrangement_is_a_plain_baseline_and_three_arrangements_within_budget() -> None:
    study = load_study("cbam-arrangement")
    assert len(study.rows) == 4 and len(study.seeds) == 3
    resolved = validate_study(study, "quick")
    plain = attention_of(resolved[study.baseline])
    assert plain["channel"] is False and plain["spatial"] is False
    arrangements = [attention_of(config)["arrangement"] for row, config in resolved.items() if row != study.baseline]
    assert arrangements == ["channel_first", "spatial_first", "parallel"]
    assert study.paper["ResNet + channel → spatial"] == {"top1_err": 22.66, "top5_err": 6.31}


def test_table_4_keeps_the_papers_numbers_and_compares_within_each_backbone() -> None:
    study = load_study("cbam-backbones")
    assert study.paper["ResNet-50 + CBAM"] == {"top1_err": 22.66, "top5_err": 6.31, "params_m": 28.09, "gflops": 3.864}
    assert study.paper["ResNet-18"] == {"top1_err": 29.60, "top5_err": 10.55, "params_m": 11.69, "gflops": 1.814}
    assert study.baseline_for("ResNet-18 + SE") == "ResNet-18"
    assert study.baseline_for("ResNeXt-50 (32x4d) + CBAM") == "ResNeXt-50 (32x4d)"


def test_paper_tables_1_to_3_are_kept_row_by_row() -> None:
    top1 = {
        name: {row: numbers["top1_err"] for row, numbers in load_study(name).paper.items()} for name in EXPECTED_STUDIES
    }
    assert top1["cbam-channel-pooling"] == {
        "ResNet (baseline)": 24.56,
        "ResNet + AvgPool (SE)": 23.14,
        "ResNet + MaxPool": 23.20,
        "ResNet + AvgPool & MaxPool": 22.80,
    }
    assert sorted(top1["cbam-spatial"].values()) == [22.66, 22.68, 22.80, 22.90, 22.96]


def test_profiles_are_whole_train_configs() -> None:
    assert profile_path("quick") == builtin_profiles()["quick"]
    with pytest.raises(ConfigError, match="profile: 'fast' is neither a built-in"):
        profile_path("fast")


def test_attention_families_compares_eight_families_on_one_backbone() -> None:
    study = load_study("attention-families")
    assert len(study.seeds) == 3
    for profile in ("quick", "cifar100", "imagenet"):
        resolved = validate_study(study, profile)
        types = [attention_of(config)["type"] for config in resolved.values()]
        assert types == ["none", "se", "eca", "gc", "coord", "simam", "cbam", "bam"]
        assert len({json.dumps(config["model"]["backbone"], sort_keys=True) for config in resolved.values()}) == 1


def test_cbam_gates_is_a_two_by_two_full_factorial_of_the_gates() -> None:
    study = load_study("cbam-gates")
    layout = factorial_layout(study)
    assert layout is not None and layout.design.kind == "full" and layout.design.runs == 4
    resolved = validate_study(study, "quick")
    gates = [
        (attention_of(resolved[row])["channel"], attention_of(resolved[row])["spatial"]) for row in layout.run_rows
    ]
    assert gates == [(False, False), (True, False), (False, True), (True, True)]
    assert layout.levels == {
        "channel gate": ("channel off", "channel on"),
        "spatial gate": ("spatial off", "spatial on"),
    }
    assert design_summary(study)["clear_interactions"] == ["channel gate × spatial gate"]
    assert "interaction" in study.description and "main effect" in study.description


def test_cbam_factorial_is_a_resolution_iv_fraction_of_the_design_cards_two_level_axes() -> None:
    study = load_study("cbam-factorial")
    layout = factorial_layout(study)
    assert layout is not None
    assert (len(layout.design.factors), layout.design.runs, layout.design.resolution) == (8, 16, 4)
    assert "16 runs per seed" in study.description
    summary = design_summary(study)
    assert all(len(summary["aliases"][axis]) == 15 and " × " in summary["aliases"][axis][0] for axis in study.levels)
    resolved = validate_study(study, "quick")
    baseline = attention_of(resolved[study.baseline])
    assert (baseline["arrangement"], baseline["reduction"], baseline["kernel_size"], baseline["placement"]) == (
        "channel_first",
        16,
        7,
        "block",
    )
    assert len({json.dumps(attention_of(config), sort_keys=True) for config in resolved.values()}) == 16


def test_cbam_cifar_is_vgg19_bn_on_cifar100_with_the_reported_numbers() -> None:
    study = load_study("cbam-cifar")
    assert study.paper == {"VGG19-BN": {"top1_err": 60.13}, "VGG19-BN + CBAM": {"top1_err": 59.05}}
    resolved = validate_study(study, "cifar100")
    cbam = resolved["VGG19-BN + CBAM"]
    assert cbam["model"]["backbone"]["name"] == "vgg19_bn" and cbam["trainer"]["max_epochs"] == 50
    assert {key: cbam["model"]["optimizer"][key] for key in ("name", "lr", "weight_decay")} == {
        "name": "adamw",
        "lr": 1e-4,
        "weight_decay": 5e-3,
    }
    assert (attention_of(cbam)["type"], attention_of(cbam)["reduction"], attention_of(cbam)["residual"]) == (
        "cbam-cifar",
        4,
        True,
    )
    assert attention_of(resolved["VGG19-BN"])["type"] == "none"
    assert "CIFAR100DataModule" in cbam["data"]["class_path"]
