"""What it costs to decide a 1-point difference: seed noise, paired noise and CPU time of candidate recipes.

For each recipe (the profile plus ``--set``-style overrides) trains two rows, no attention and CBAM, at seeds
0..N-1 with ``attnlab ablate`` on the recipe's own storage (a rerun resumes), then prints per recipe: the seed std
of each row, the std of the paired difference CBAM − none with its 95% chi-square interval, the CPU-seconds of a
cell (wall time × threads of the cells, which run one per core), the seed pairs a 1-point difference needs at 80%
power, α = 0.05 (noncentral t, :func:`attnlab.stats.comparisons.seeds_needed`), and the CPU-minutes those pairs
cost. A std from 8 pairs is itself uncertain by about ±25–45%: the interval says how much.

    python benchmarks/decision_cost.py quick --seeds 8 --workers 2 \\
        --recipe plain= --recipe fresh=data.init_args.fresh_canvases=true \\
        --recipe fresh+ema=data.init_args.fresh_canvases=true,model.ema_decay=0.98
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from scipy import stats

from attnlab.reports.cells import COMPLETE, cell_frame
from attnlab.reports.sources.optuna_trials import load_from_optuna
from attnlab.stats.comparisons import seeds_needed

ROWS = {"none": {"model.attention.type": "none"}, "cbam": {"model.attention.type": "cbam"}}
EFFECT = 1.0  # points of the metric to decide


@dataclass(frozen=True)
class Recipe:
    """A name and the overrides it puts on the profile."""

    name: str
    overrides: tuple[str, ...]  # KEY=VALUE, as attnlab ablate --set takes them


@dataclass(frozen=True)
class Cost:
    """One recipe's noise and the compute a decision of :data:`EFFECT` points costs under it."""

    recipe: str
    pairs: int
    mean_none: float
    mean_cbam: float
    seed_std_none: float
    seed_std_cbam: float
    paired_std: float
    paired_std_low: float
    paired_std_high: float
    cpu_s_per_cell: float
    seeds_for_effect: float
    cpu_min_to_decide: float


def parse_recipe(text: str) -> Recipe:
    """``NAME=KEY=VALUE,KEY=VALUE`` (``NAME=`` for the profile unchanged)."""
    name, _, overrides = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(f"--recipe {text!r}: give NAME=KEY=VALUE,... (NAME= for the profile)")
    return Recipe(name, tuple(item for item in overrides.split(",") if item))


def study_file(seeds: int, folder: Path) -> Path:
    """A two-row study (no attention, CBAM) at seeds 0..``seeds``-1."""
    study = {
        "name": f"decision-cost-{seeds}-seeds",
        "description": "No attention against CBAM, for the noise and cost of a decision",
        "rows": {row: {"patch": patch} for row, patch in ROWS.items()},
        "seeds": list(range(seeds)),
        "baseline": "none",
    }
    path = folder / f"{study['name']}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    return path


def train(study: Path, profile: str, recipe: Recipe, storage: Path, workers: int) -> None:
    command = [sys.executable, "-m", "attnlab", "ablate", str(study), "--profile", profile]
    command += ["--storage", str(storage), "--workers", str(workers)]
    for override in recipe.overrides:
        command += ["--set", override]
    subprocess.run(command, check=True)


def std_interval(std: float, pairs: int, level: float = 0.95) -> tuple[float, float]:
    """The chi-square interval of a normal sample's std from ``pairs`` values."""
    if pairs < 2 or not math.isfinite(std):
        return math.nan, math.nan
    df, tail = pairs - 1, (1 - level) / 2
    return std * math.sqrt(df / stats.chi2.isf(tail, df)), std * math.sqrt(df / stats.chi2.ppf(tail, df))


def cost_of(recipe: Recipe, study: str, profile: str, storage: Path) -> Cost:
    loaded = load_from_optuna(study, profile, str(storage))
    cells = cell_frame(loaded.records, loaded.spec)
    complete = cells[cells["state"] == COMPLETE]
    metric = loaded.spec.metric
    values = complete.pivot(index="seed", columns="row", values=metric)
    paired = (values["cbam"] - values["none"]).dropna()
    std = float(paired.std())
    low, high = std_interval(std, len(paired))
    cpu_s_by_row = (complete["wall_time_s"] * complete["threads"].fillna(1)).groupby(complete["row"]).mean()
    needed = seeds_needed(EFFECT, std)
    return Cost(
        recipe=recipe.name,
        pairs=len(paired),
        mean_none=float(values["none"].mean()),
        mean_cbam=float(values["cbam"].mean()),
        seed_std_none=float(values["none"].std()),
        seed_std_cbam=float(values["cbam"].std()),
        paired_std=std,
        paired_std_low=low,
        paired_std_high=high,
        cpu_s_per_cell=float(cpu_s_by_row.mean()),
        seeds_for_effect=needed,
        cpu_min_to_decide=needed * float(cpu_s_by_row.sum()) / 60,
    )


def print_table(costs: list[Cost], profile: str) -> None:
    header = (
        f"{'recipe':<24} {'pairs':>5} {'none':>6} {'cbam':>6} {'std none':>8} {'std cbam':>8} "
        f"{'paired std [95% CI]':>22} {'CPU-s/cell':>10} {'pairs for 1 pt':>14} {'CPU-min to decide':>17}"
    )
    print(f"decision cost on the {profile} profile (test/top1_err, points; 80% power, α = 0.05)")
    print(header)
    for cost in costs:
        interval = f"{cost.paired_std:.2f} [{cost.paired_std_low:.2f}, {cost.paired_std_high:.2f}]"
        print(
            f"{cost.recipe:<24} {cost.pairs:>5} {cost.mean_none:>6.2f} {cost.mean_cbam:>6.2f} "
            f"{cost.seed_std_none:>8.2f} {cost.seed_std_cbam:>8.2f} {interval:>22} {cost.cpu_s_per_cell:>10.0f} "
            f"{cost.seeds_for_effect:>14.0f} {cost.cpu_min_to_decide:>17.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", help="a built-in profile (quick) or a profile .yaml file")
    parser.add_argument("--seeds", type=int, default=8, help="seeds 0..N-1 per row (default 8)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--recipe", type=parse_recipe, action="append", help="NAME=KEY=VALUE,...; repeatable")
    parser.add_argument("--out", type=Path, default=Path("runs/decision-cost"), help="folder for studies, storages")
    parser.add_argument("--json", action="store_true", help="print the table as JSON lines")
    parser.add_argument("--no-train", action="store_true", help="only read what the storages hold")
    args = parser.parse_args()
    recipes = args.recipe or [Recipe("profile", ())]
    args.out.mkdir(parents=True, exist_ok=True)
    study = study_file(args.seeds, args.out)
    costs = []
    for recipe in recipes:
        storage = args.out / f"{recipe.name}.journal"
        if not args.no_train:
            train(study, args.profile, recipe, storage, args.workers)
        costs.append(cost_of(recipe, study.stem, args.profile, storage))
    if args.json:
        for cost in costs:
            print(json.dumps(asdict(cost)))
    else:
        print_table(costs, args.profile)


if __name__ == "__main__":
    main()
