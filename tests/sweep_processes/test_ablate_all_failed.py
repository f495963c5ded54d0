"""``attnlab ablate`` on a study whose every cell fails: exit status 1 and a last line that says so."""

from __future__ import annotations

import pytest
from sweep_helpers import DIVERGING, Tiny


@pytest.mark.slow  # a real launcher and worker process
def test_a_study_whose_cells_all_failed_exits_1_and_says_so_last(tiny: Tiny) -> None:
    study = tiny.study({"nan": DIVERGING}, seeds=[0])
    done = tiny.run("ablate", str(study), "--profile", str(tiny.profile))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-2].startswith("  failed nan/seed0: diverged: training loss is nan")
    assert lines[-1] == "tiny@tiny-profile: every cell failed (1 of 1, reasons above)"
    again = tiny.run("ablate", str(study), "--profile", str(tiny.profile))  # nothing left to train: still a failure
    assert again.returncode == 1 and again.stdout.strip().splitlines()[-1] == lines[-1]
