"""How noisy a study's comparisons are: the seed-to-seed std of each row and the std of its paired differences.

Common random numbers (``model.randomness: common``) should leave the seed std about where it was and shrink
the std of the paired differences (row − baseline on the same seed), which is what every verdict divides by.
Run a study twice, once per randomness, each on its own storage, then compare:

    attnlab ablate STUDY --storage runs/crn/common.journal
    attnlab ablate STUDY --storage runs/crn/independent.journal --set model.randomness=independent
    python benchmarks/paired_noise.py STUDY --storage runs/crn/independent.journal --storage runs/crn/common.journal
"""

from __future__ import annotations

import argparse
import math

import pandas as pd

from attnlab.reports.cells import COMPLETE, cell_frame
from attnlab.reports.sources.optuna_trials import load_from_optuna


def noise(study: str, profile: str, storage: str) -> pd.DataFrame:
    """Per row: complete seeds, mean and seed std of the study's metric, and the std of row − baseline."""
    loaded = load_from_optuna(study, profile, storage)
    spec = loaded.spec
    cells = cell_frame(loaded.records, spec)
    values = cells[cells["state"] == COMPLETE].pivot(index="seed", columns="row", values=spec.metric)
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
            }
        )
    return pd.DataFrame(rows).set_index("row")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--storage", action="append", required=True, help="a storage holding the study (repeatable)")
    args = parser.parse_args()
    for storage in args.storage:
        table = noise(args.study, args.profile, storage)
        compared = table["paired_diff_std"].dropna()
        print(f"\n{args.study}@{args.profile} in {storage}")
        print(table.to_string(float_format=lambda value: f"{value:.2f}"))
        pooled_diff = math.sqrt((compared**2).mean()) if len(compared) else math.nan
        pooled_seed = math.sqrt((table["seed_std"] ** 2).mean())
        print(f"pooled seed std {pooled_seed:.2f}, pooled paired-difference std {pooled_diff:.2f}")


if __name__ == "__main__":
    main()
