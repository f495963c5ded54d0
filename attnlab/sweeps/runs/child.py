"""``python -m attnlab.sweeps.runs.child SPEC OUTCOME``: one multi-device training, rank 0 writing its outcome.

Lightning's DDP launcher re-runs this same command for every other rank (with ``LOCAL_RANK`` set),
so each rank reads the same spec and joins the same run; only rank 0 reports.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from attnlab.sweeps.runs.environment import EnvironmentStop
from attnlab.sweeps.runs.execution import Outcome, RunSpec, run_here, write_outcome


def main(argv: list[str]) -> int:
    # SLURM's time-limit warning reaches every job step: the worker handles it and stops the ranks
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    spec_path, outcome_path = (Path(arg) for arg in argv)
    try:
        outcome = run_here(RunSpec.from_json(spec_path.read_text(encoding="utf-8")))
    except EnvironmentStop as stop:  # the worker marks the cell interrupted and stops
        outcome = Outcome("stopped", reason=str(stop))
    if int(os.environ.get("LOCAL_RANK", "0")) == 0:
        write_outcome(outcome, outcome_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
