"""How noisy a study's comparisons are, with and without common random numbers.

Trains the study at ``--seeds`` seeds twice, each on its own storage: once with ``model.randomness:
independent`` (every row draws its whole init from torch's global RNG in construction order) and once with
``common`` (every row of a seed starts from the same backbone weights). Prints, per row and randomness, the
seed-to-seed std of the metric and the std of the paired differences row − baseline on the same seed, which is
what every verdict divides by. Common random numbers should leave the seed std about where it was and shrink
the paired-difference std. Rerunning resumes: finished cells are not trained again.

    python benchmarks/paired_noise.py cbam-arrangement --seeds 5 --workers 2 --out runs/crn
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from attnlab.ablations.registry import load_study
from attnlab.reports.cells import COMPLETE, cell_frame
from attnlab.reports.sources.optuna_trials import load_from_optuna
from attnlab.reports.spec import StudySpec

RANDOMNESS = ("independent", "common")


def study_with_seeds(study: str, seeds: int, folder: Path) -> Path:
    """The study's own file with seeds 0..``seeds``-1 (and a name that says so), written into ``folder``."""
    source = load_study(study).source
    assert source is not None, f"{study} was not read from a file"
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    raw["name"] = f"{raw['name']}-{seeds}-seeds"
    raw["seeds"] = list(range(seeds))
    path = folder / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def train(study_file: Path, profile: str, storage: Path, randomness: str, workers: int) -> None:
    """``attnlab ablate`` on ``storage`` under ``randomness``; stops the benchmark if any cell failed."""
    command = [sys.executable, "-m", "attnlab", "ablate", str(study_file), "--profile", profile]
    command += ["--storage", str(storage), "--workers", str(workers), "--set", f"model.randomness={randomness}"]
    subprocess.run(command, check=True)


def metric_by_seed(study: str, profile: str, storage: str) -> tuple[pd.DataFrame, StudySpec]:
    """The study's metric of every complete cell, one column per row, one line per seed."""
    loaded = load_from_optuna(study, profile, storage)
    cells = cell_frame(loaded.records, loaded.spec)
    complete = cells[cells["state"] == COMPLETE]
    return complete.pivot(index="seed", columns="row", values=loaded.spec.metric), loaded.spec


def mean_correlation(values: pd.DataFrame, baseline: str) -> tuple[float, float]:
    """Mean correlation over seeds of each row with the baseline, and of every two other rows."""
    correlation = values.corr()
    others = [row for row in values if row != baseline]
    with_baseline = correlation.loc[others, baseline].mean()
    among = [correlation.loc[a, b] for index, a in enumerate(others) for b in others[index + 1 :]]
    return with_baseline, sum(among) / len(among) if among else math.nan


def pairwise_std(values: pd.DataFrame) -> pd.DataFrame:
    """Std over seeds of the paired difference of every two rows: which comparisons the shared randomness helps."""
    return pd.DataFrame({a: {b: (values[a] - values[b]).std() for b in values} for a in values})


def noise(values: pd.DataFrame, spec: StudySpec) -> pd.DataFrame:
    """Per row: complete seeds, mean and seed std of the study's metric, and the std of row − baseline."""
    rows = []
    for row in spec.rows:
        if row not in values:
            continue
        baseline = spec.baseline_of(row)
        paired = (values[row] - values[baseline]).dropna() if baseline in values and baseline != row else None
        rows.append(
            {
                "row": row,
                "seeds": int(values[row].notna().sum()),
                "mean": values[row].mean(),
                "seed_std": values[row].std(),
                "paired_diff_mean": math.nan if paired is None else paired.mean(),
                "paired_diff_std": math.nan if paired is None else paired.std(),
                # What shared randomness acts on: the paired variance is var(row) + var(base) − 2·cov.
                "corr_with_baseline": math.nan if paired is None else values[row].corr(values[baseline]),
            }
        )
    return pd.DataFrame(rows).set_index("row")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", help="a built-in study or a study .yaml file")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per row (default 5)")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/crn"), help="folder for the study file and storages")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    study_file = study_with_seeds(args.study, args.seeds, args.out)
    name = study_file.stem
    for randomness in RANDOMNESS:
        train(study_file, args.profile, args.out / f"{randomness}.journal", randomness, args.workers)
    for randomness in RANDOMNESS:
        values, spec = metric_by_seed(name, args.profile, str(args.out / f"{randomness}.journal"))
        table = noise(values, spec)
        compared = table["paired_diff_std"].dropna()
        print(f"\n{name}@{args.profile}, model.randomness={randomness}")
        print(table.to_string(float_format=lambda value: f"{value:.2f}"))
        pooled_diff = math.sqrt((compared**2).mean()) if len(compared) else math.nan
        pooled_seed = math.sqrt((table["seed_std"] ** 2).mean())
        print(f"pooled seed std {pooled_seed:.2f}, pooled paired-difference std {pooled_diff:.2f}")
        with_baseline, among = mean_correlation(values, spec.baseline)
        print(f"mean correlation over seeds: with the baseline {with_baseline:.2f}, among the other rows {among:.2f}")
        pairwise = pairwise_std(values)
        others = [row for row in values if row != spec.baseline]
        among_std = [pairwise.loc[a, b] for index, a in enumerate(others) for b in others[index + 1 :]]
        if among_std:
            pooled_among = math.sqrt(sum(std**2 for std in among_std) / len(among_std))
            print(f"pooled paired-difference std among the other rows {pooled_among:.2f}")
        print("std of the paired difference, every two rows:")
        print(pairwise.to_string(float_format=lambda value: f"{value:.2f}"))


if __name__ == "__main__":
    main()
