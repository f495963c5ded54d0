"""What a factorial design buys at equal cells: a main effect's standard error against a one-at-a-time comparison.

The noise model is the quick profile's measured one (its header): a paired difference of two rows at one seed
varies by ``--paired-std`` points (2.5), so one run's own noise is paired-std / √2 around its seed's level. A
one-factor-at-a-time study of k two-level axes trains k + 1 rows per seed and compares each row with the baseline
over the seeds (the paired t-test); a resolution-IV fraction (pyDOE) trains its runs per seed and estimates each
main effect from all of them (half the runs against the other half). Both are simulated (seed blocks and run
noise drawn, the estimators applied) and computed; the table gives, at the same number of cells, each standard
error, and the seeds and cells each needs to decide a ``--effect``-point difference at 80% power, α = 0.05.

    python benchmarks/factorial_efficiency.py                 # 8 axes, the quick profile's noise
    python benchmarks/factorial_efficiency.py --axes 6 --paired-std 2.5 --effect 1
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from attnlab.stats.comparisons import seeds_needed
from attnlab.stats.designs import effect_contrasts, fractional_factorial

SIMULATED = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--axes", type=int, default=8, help="two-level axes")
    parser.add_argument("--paired-std", type=float, default=2.5, help="std of a paired difference at one seed")
    parser.add_argument("--effect", type=float, default=1.0, help="the difference to decide, in metric points")
    parser.add_argument("--resolution", default="IV")
    args = parser.parse_args()
    design = fractional_factorial([f"axis{i}" for i in range(args.axes)], args.resolution)
    run_std = args.paired_std / math.sqrt(2)
    ofat_cells, factorial_cells = args.axes + 1, design.runs  # per seed
    cells = math.lcm(ofat_cells, factorial_cells)
    ofat_seeds, replicates = cells // ofat_cells, cells // factorial_cells

    rng = np.random.default_rng(0)
    level = rng.normal(0, 2, size=(SIMULATED, ofat_seeds, 1))  # the seed's shift, shared by its rows
    rows = level + rng.normal(0, run_std, size=(SIMULATED, ofat_seeds, ofat_cells))
    ofat_estimate = (rows[:, :, 1] - rows[:, :, 0]).mean(axis=1)  # row 1 against the baseline row 0
    level = rng.normal(0, 2, size=(SIMULATED, replicates, 1))
    runs = level + rng.normal(0, run_std, size=(SIMULATED, replicates, factorial_cells))
    factorial_estimate = effect_contrasts(design, ["a"], runs.reshape(-1, factorial_cells)).reshape(SIMULATED, -1)
    factorial_estimate = factorial_estimate.mean(axis=1)

    contrast_std = run_std * math.sqrt(4 / design.runs)  # mean of runs/2 against runs/2, per replicate
    ofat_needed = seeds_needed(args.effect, args.paired_std)
    factorial_needed = seeds_needed(args.effect, contrast_std)
    print(
        f"{args.axes} two-level axes; one-at-a-time {ofat_cells} rows per seed, resolution-{args.resolution} "
        f"fraction {design.runs} runs per replicate; paired-difference std {args.paired_std} "
        f"(run std {run_std:.2f}); {SIMULATED} simulated studies"
    )
    print(f"at equal cells ({cells}): {ofat_seeds} one-at-a-time seeds against {replicates} factorial replicates")
    header = f"{'design':<22}{'SE simulated':>14}{'SE computed':>13}{'seeds for Δ=' + f'{args.effect:g}':>16}"
    print(header + f"{'cells':>8}")
    ofat_se = args.paired_std / math.sqrt(ofat_seeds)
    factorial_se = contrast_std / math.sqrt(replicates)
    print(
        f"{'one at a time (row)':<22}{ofat_estimate.std():>14.3f}{ofat_se:>13.3f}{ofat_needed:>16.0f}"
        f"{ofat_needed * ofat_cells:>8.0f}"
    )
    print(
        f"{'fractional (main)':<22}{factorial_estimate.std():>14.3f}{factorial_se:>13.3f}{factorial_needed:>16.0f}"
        f"{factorial_needed * factorial_cells:>8.0f}"
    )
    ratio = factorial_estimate.std() / ofat_estimate.std()
    saved = ofat_needed * ofat_cells / (factorial_needed * factorial_cells)
    print(f"standard error ratio (fractional / one at a time): {ratio:.2f}; cells to decide, ratio: {saved:.1f}x fewer")


if __name__ == "__main__":
    main()
