"""benchmarks/gpu_check.py runs on a machine without a GPU: GPU rows skipped and said so, the rest measured."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"
pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU behaviour of the GPU script")


def run_check(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_every_gpu_row_is_skipped_with_its_reason_on_cpu() -> None:
    lines = run_check()
    rows = [line for line in lines[2:] if line.strip()]
    assert [row.split()[0] for row in rows] == ["step"] * 4 + ["study", "ddp"]
    assert all("skipped: no CUDA device" in row for row in rows[:5])
    assert "DDP needs 2" in rows[5]


@pytest.mark.slow
def test_cpu_smoke_measures_steps_and_trains_the_two_cell_study_exactly_once() -> None:
    lines = run_check("--cpu-smoke", "--samples", "3")
    steps = [line for line in lines if line.startswith("step")]
    assert len(steps) == 2
    for line in steps:
        ratios = [float(value) for value in re.findall(r"×(\d+\.\d+)", line)]
        assert len(ratios) == 3 and all(ratio > 1.0 for ratio in ratios)  # every CBAM form costs something
    study = next(line for line in lines if line.startswith("study"))
    assert "2 of 2 complete, exactly once: True" in study
