"""``attnlab train``: one design on one dataset, through LightningCLI (``-c config.yaml``, dotted overrides).

Only argument handling lives here; the run itself is :mod:`attnlab.training`, which studies and
sweeps call with the very same arguments.
"""

from __future__ import annotations

from attnlab.training.config import AttnlabCLI, build_cli
from attnlab.training.run import fit_and_test, format_summary

HELP = "train one design on one dataset (LightningCLI: -c config.yaml, dotted overrides)"


def main(argv: list[str]) -> int:
    print(format_summary(fit_and_test(build_cli(AttnlabCLI, argv))))
    return 0
