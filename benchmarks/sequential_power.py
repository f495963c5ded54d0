"""Seeds until decided against a fixed number of seeds: error rates, power and seeds spent, by simulation.

Synthetic studies (no training): per seed a paired difference row − baseline drawn as N(Δ, σ²),
Δ in units of σ (the paired-difference standard deviation). The sequential rule is the one
``attnlab ablate --until-decided`` runs (:mod:`attnlab.stats.sequential`); the fixed design
takes one look at the maximum seeds with the same α. Printed per true difference: how often each
design says "better/worse" (the false-positive rate at Δ = 0, the power otherwise), how often the
sequential one says "equivalent within ±δ", and the average seeds per row each spends.

    python benchmarks/sequential_power.py --seeds 3 --max-seeds 12 --step 3 --margin 0.5 --studies 100000
"""

from __future__ import annotations

import argparse

import numpy as np

from attnlab.stats.sequential import BETTER_OR_WORSE, EQUIVALENT, SequentialPlan, sequential_decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="the study's own seeds (the first look)")
    parser.add_argument("--max-seeds", type=int, default=12)
    parser.add_argument("--step", type=int, default=3, help="seeds added per round")
    parser.add_argument("--margin", type=float, default=0.5, help="equivalence margin δ, in units of σ")
    parser.add_argument("--studies", type=int, default=100_000, help="simulated studies per true difference")
    parser.add_argument("--differences", default="0,0.25,0.5,0.75,1,1.5", help="true Δ values, in units of σ")
    args = parser.parse_args()

    sequential = SequentialPlan.for_study(list(range(args.seeds)), args.max_seeds, step=args.step, margin=args.margin)
    fixed = SequentialPlan.for_study(list(range(args.max_seeds)), args.max_seeds, margin=args.margin)
    print(f"sequential: {sequential.describe()}")
    print(f"fixed: one look at {args.max_seeds} seeds, α = {fixed.alpha:g}; {args.studies} studies per row\n")
    print(
        "| Δ/σ | fixed: P(better/worse) | fixed: P(equivalent) | sequential: P(better/worse) | "
        "sequential: P(equivalent) | sequential: mean seeds | seeds saved |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(2024)
    for difference in (float(value) for value in args.differences.split(",")):
        draws = rng.normal(difference, 1.0, size=(args.studies, args.max_seeds))
        verdict, _, spent = sequential_decisions(draws, sequential)
        fixed_verdict, _, _ = sequential_decisions(draws, fixed)
        print(
            f"| {difference:g} | {np.mean(fixed_verdict == BETTER_OR_WORSE):.4f} | "
            f"{np.mean(fixed_verdict == EQUIVALENT):.4f} | {np.mean(verdict == BETTER_OR_WORSE):.4f} | "
            f"{np.mean(verdict == EQUIVALENT):.4f} | {spent.mean():.2f} | {1 - spent.mean() / args.max_seeds:.0%} |"
        )
    error = (0.05 * 0.95 / args.studies) ** 0.5
    print(f"\nMonte-Carlo standard error of a rate near α = 0.05: {error:.4f}")


if __name__ == "__main__":
    main()
