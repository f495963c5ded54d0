"""Coverage of every interval the report prints, at 3, 5 and 10 seed pairs: the tables the report's note quotes.

    .venv/bin/python benchmarks/interval_coverage.py [--trials 50000]

Simulated studies (no training) through the report's own functions; see attnlab/stats/coverage.py.
"""

from __future__ import annotations

import argparse

from attnlab.stats.coverage import INTERVALS, LAWS, NOMINAL, PAIRS, coverage_table, monte_carlo_error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50_000, help="simulated studies per law and number of pairs")
    trials = parser.parse_args().trials
    table = coverage_table(trials)
    error = monte_carlo_error(trials)
    print(f"Coverage of nominal {NOMINAL:.0%} intervals, {trials} studies each (Monte-Carlo SE {error:.4f})")
    header = " | ".join(f"{law} n={n}" for law in LAWS for n in PAIRS)
    print(f"| interval | {header} |")
    print("|---" * (1 + len(LAWS) * len(PAIRS)) + "|")
    for interval in INTERVALS:
        cells = " | ".join(f"{table[interval, law, n]:.3f}" for law in LAWS for n in PAIRS)
        print(f"| {interval} | {cells} |")


if __name__ == "__main__":
    main()
