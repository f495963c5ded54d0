"""Numeric options and config fields out of range: one-line refusals (exit 2) before anything is written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from attnlab.cli.main import main
from attnlab.errors import ConfigError
from attnlab.modules.backbones.config import BackboneConfig
from attnlab.modules.design import AttentionDesign
from attnlab.sweeps.placement import plan_placement


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
