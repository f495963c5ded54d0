"""Every GPU path once, in one command and one table: the acceptance check for a lent GPU machine.

Rows:
- ``step``: a CBAM ResNet-50 training step (224², batch 64) in fp32, bf16, bf16 + channels_last and bf16 +
  channels_last + compiled attention, each against the plain network and the released-code CBAM
  (``benchmarks/attention_overhead.py`` measures, interleaved; ratios are medians over rounds);
- ``study``: a 2-cell study (no attention, CBAM; one seed, a short quick-profile run) trained by two launchers
  sharing GPU 0 on one journal, its cells counted from the storage (exactly once: 2 complete, no trial twice);
- ``ddp``: one cell as DDP over two GPUs, when two exist.

Where CUDA (or a second GPU) is missing, each such row says ``skipped`` and why, and the command still exits 0:
the CPU run is what the test suite checks. ``--cpu-smoke`` runs the step rows on CPU at a tiny size instead
(the same code path, fp32 and channels_last), and the study on CPU workers.

    python benchmarks/gpu_check.py                  # on a GPU machine: under 8 minutes on one H100/H200
    python benchmarks/gpu_check.py --cpu-smoke      # the same script, checked on a CPU
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
OVERHEAD = REPO / "benchmarks" / "attention_overhead.py"
VARIANTS = ("plain", "cbam", "cbam-official", "released-cbam")
GPU_STEP_SETTINGS = {
    "fp32": [],
    "bf16": ["--precision", "bf16"],
    "bf16 channels_last": ["--precision", "bf16", "--channels-last"],
    "bf16 channels_last compiled": ["--precision", "bf16", "--channels-last", "--compile"],
}
CPU_STEP_SETTINGS = {"fp32": [], "fp32 channels_last": ["--channels-last"]}
SHORT_CELL = [
    "--set",
    "trainer.max_epochs=1",
    "--set",
    "data.init_args.num_train=256",
    "--set",
    "data.init_args.num_test=256",
]


@dataclass(frozen=True)
class Row:
    check: str
    setting: str
    result: str


def _attnlab(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "attnlab", *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO
    )


def _last_line(output: str) -> str:
    """What a failed command said last: its one-line error, or the traceback's final line."""
    return (output.strip().splitlines() or ["no output"])[-1]


def step_rows(cuda: bool, cpu_smoke: bool, samples: int) -> list[Row]:
    """The training-step timings, one row per precision / layout / compile setting."""
    if not cuda and not cpu_smoke:
        return [Row("step", name, "skipped: no CUDA device") for name in GPU_STEP_SETTINGS]
    if cuda:
        size = ["--backbone", "resnet50", "--stem", "imagenet", "--width", "1", "--image-size", "224"]
        size += ["--batch-size", "64", "--num-classes", "1000", "--device", "cuda"]
        settings = GPU_STEP_SETTINGS
    else:
        size = ["--backbone", "resnet18", "--width", "0.25", "--image-size", "32", "--batch-size", "16"]
        size += ["--device", "cpu", "--min-sample-s", "0.02"]
        settings = CPU_STEP_SETTINGS
    rows = []
    for name, flags in settings.items():
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            command = [sys.executable, str(OVERHEAD), *size, *flags, "--parts", "step"]
            command += ["--variants", ",".join(VARIANTS), "--samples", str(samples), "--json", out.name]
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                rows.append(Row("step", name, f"failed: {_last_line(done.stderr)}"))
                continue
            table = json.loads(Path(out.name).read_text())["variants"]
        train = {variant: table[variant]["step/train"] for variant in VARIANTS}
        result = f"plain {train['plain']['ms']:.1f} ms; " + "; ".join(
            f"{variant} ×{train[variant]['ratio']:.3f}" for variant in VARIANTS[1:]
        )
        if "--compile" in flags:
            result += f" (compiling {train['cbam']['compile_s']:.0f} s)"
        rows.append(Row("step", name, result))
    return rows


def _study_file(folder: Path) -> Path:
    path = folder / "gpu-check.yaml"
    path.write_text(
        "name: gpu-check\n"
        "description: two cells, the GPU acceptance check\n"
        "rows:\n"
        "  no attention: {patch: {model.attention.type: none}}\n"
        "  CBAM: {patch: {model.attention.type: cbam}}\n"
        "seeds: [0]\n"
        "metric: test/top1_err\n"
        "baseline: no attention\n"
    )
    return path


def study_row(cuda: bool, cpu_smoke: bool, folder: Path) -> Row:
    """Two launchers on one journal, sharing GPU 0 (or two CPU workers): both cells complete, each once."""
    if not cuda and not cpu_smoke:
        return Row("study", "2 cells, 2 workers on GPU 0", "skipped: no CUDA device")
    study, storage = _study_file(folder), str(folder / "attnlab.journal")
    device = ["--set", "trainer.accelerator=gpu", "--devices", "0"] if cuda else ["--set", "trainer.accelerator=cpu"]
    started = time.perf_counter()
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    launchers = [
        subprocess.Popen(
            [sys.executable, "-m", "attnlab", "ablate", str(study), "--storage", storage, *device, *SHORT_CELL],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=folder,
        )
        for _ in range(2)
    ]
    errors = [launcher.communicate(timeout=600)[1] for launcher in launchers]
    wall = time.perf_counter() - started
    status = _attnlab("status", str(study), "--storage", storage, "--format", "json")
    if status.returncode != 0:
        return Row("study", "2 cells, 2 launchers", f"failed: {_last_line(errors[0])}")
    counts = json.loads(status.stdout)["counts"]
    setting = "2 cells, 2 launchers on GPU 0" if cuda else "2 cells, 2 CPU launchers"
    complete = counts.get("complete", 0)
    return Row("study", setting, f"{complete} of 2 complete, exactly once: {complete == 2}; {wall:.0f} s")


def ddp_row(gpus: int, folder: Path) -> Row:
    """One cell as DDP over GPUs 0 and 1."""
    if gpus < 2:
        return Row("ddp", "1 cell on 2 GPUs", f"skipped: {gpus} GPU(s) visible, DDP needs 2")
    study, storage = _study_file(folder), str(folder / "ddp.journal")
    started = time.perf_counter()
    done = _attnlab(
        "ablate", str(study), "--storage", storage, "--devices", "0,1", "--devices-per-trial", "2",
        "--set", "trainer.accelerator=gpu", *SHORT_CELL, timeout=600,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return Row("ddp", "2 cells, DDP on 2 GPUs", f"failed: {_last_line(done.stderr)}")
    return Row("ddp", "2 cells, DDP on 2 GPUs", f"complete in {wall:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-smoke", action="store_true", help="run the step and study rows on CPU at tiny size")
    parser.add_argument("--samples", type=int, default=7, help="rounds of the step timing")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    gpus = torch.cuda.device_count() if cuda else 0
    device = torch.cuda.get_device_name(0) if cuda else "no CUDA device"
    print(f"gpu_check: torch {torch.__version__}, {device}, {gpus} GPU(s)", flush=True)
    with tempfile.TemporaryDirectory(prefix="attnlab-gpu-check-") as scratch:
        rows = step_rows(cuda, args.cpu_smoke, args.samples)
        rows.append(study_row(cuda, args.cpu_smoke, Path(scratch)))
        rows.append(ddp_row(gpus, Path(scratch)))
    width = max(len(row.setting) for row in rows)
    print(f"{'check':<6} {'setting':<{width}} result")
    for row in rows:
        print(f"{row.check:<6} {row.setting:<{width}} {row.result}")


if __name__ == "__main__":
    main()
