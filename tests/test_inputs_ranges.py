"""Numeric options and config fields out of range: one-line refusals (exit 2) before anything is written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from attnlab.cli.main import main
from attnlab.errors import ConfigError
from attnlab.modules.backbones.config import BackboneConfig
from attnlab.modules.design import AttentionDesign
from attnlab.sweeps.local.placement import plan_placement


@pytest.fixture
def case_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["ablate", "cbam-arrangement", "--until-decided", "--max-seeds", "10000"],
            "--max-seeds: 10000 is out of range",
        ),
        (["ablate", "cbam-arrangement", "--until-decided", "--max-seeds", "0"], "--max-seeds: 0 is out of range"),
        (
            ["ablate", "cbam-arrangement", "--devices-per-trial", "100000"],
            "--devices-per-trial: 100000 is out of range",
        ),
        (["ablate", "cbam-arrangement", "--workers", "0"], "--workers: 0 is out of range; use an integer from 1"),
        (["ablate", "cbam-arrangement", "--max-retries", "-1"], "--max-retries: -1 is out of range"),
        (["ablate", "cbam-arrangement", "--grace-period", "0"], "--grace-period: 0 is out of range"),
        (["sweep", "x.yaml", "--workers", "many"], "--workers: 'many' is not an integer"),
        (
            ["explain", "probe", "--logs", "logs", "--images", "0"],
            "--images: 0 is out of range; use an integer from 1 to 256",
        ),
        (["explain", "probe", "--logs", "logs", "--images", "100000"], "--images: 100000 is out of range"),
        (["ablate", "cbam-arrangement", "--storage-timeout", "0"], "--storage-timeout: 0 is out of range"),
        (["sweep", "x.yaml", "--storage-timeout", "soon"], "--storage-timeout: 'soon' is not an integer"),
        (["status", "cbam-arrangement", "--storage-timeout", "0"], "--storage-timeout: 0 is out of range"),
        (["status", "cbam-arrangement", "--max-retries", "-1"], "--max-retries: -1 is out of range"),
    ],
)
def test_an_out_of_range_option_is_one_line_and_exit_2(
    case_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    start = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err.strip().splitlines()[-1]
    assert list(case_dir.iterdir()) == []  # nothing written: no storage, no runs folder
    assert time.monotonic() - start < 10


def test_devices_per_trial_beyond_the_cores_is_refused_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(ConfigError, match=r"^--devices-per-trial 1000: no GPU here.*use 1 to \d+"):
        plan_placement(workers=None, devices=None, devices_per_trial=1000)


def test_a_huge_kernel_size_fails_validation() -> None:
    with pytest.raises(
        ConfigError, match=r"^attention.kernel_size: must be a positive odd integer up to 63, got 99999"
    ):
        AttentionDesign(type="cbam", kernel_size=99999)


def test_a_huge_widen_factor_fails_validation() -> None:
    with pytest.raises(ConfigError, match=r"^backbone.widen_factor: must be a number > 0 and <= 16"):
        BackboneConfig(name="wide_resnet50", widen_factor=1e6)


def test_a_spatial_kernel_wider_than_every_feature_map_is_refused_before_any_compute(
    case_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # quick: 16×16 images into ResNet-18's CIFAR stem, so the gates see 16, 8, 4 and 2 pixel wide maps
    assert main(["ablate", "cbam-arrangement", "--set", "model.attention.kernel_size=17"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    assert error.endswith(
        "model.attention.kernel_size: 17 is wider than every feature map its spatial gates see (the widest is "
        "16×16 with image size 16, the smallest 2×2); use an odd size from 1 to 15"
    )
    written = sorted(str(path.relative_to(case_dir)) for path in case_dir.rglob("*"))
    assert written == ["runs", "runs/attnlab.journal"] and (case_dir / written[1]).stat().st_size == 0  # no study


def test_a_kernel_as_wide_as_the_widest_map_passes() -> None:
    from attnlab.ablations import profile_path
    from attnlab.training import validate_train_args

    config = validate_train_args(["-c", str(profile_path("quick")), "--model.attention.kernel_size=15"])
    assert config["model"]["attention"]["kernel_size"] == 15


def test_status_checks_its_profile_as_ablate_does(case_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "cbam-arrangement", "--profile", "nosuch"]) == 2
    error = capsys.readouterr().err.strip()
    assert (
        error
        == "attnlab status: error: profile: 'nosuch' is neither a built-in (cifar100, imagenet, quick) nor a .yaml file"
    )
    assert list(case_dir.iterdir()) == []
