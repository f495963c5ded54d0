"""``--until-decided`` rounds on a factorial study, on a real Optuna journal, cells "trained" by writing results.

cbam-gates' 2×2 design: the channel gate lowers the error by 4 points on every seed (decided at the first look),
the spatial gate and the interaction are noise, so every later round trains the next seed on all four runs.
"""

from __future__ import annotations

from pathlib import Path

from optuna.trial import TrialState, create_trial
from rich.console import Console

from attnlab.ablations import load_study
from attnlab.sweeps.ablation import UntilDecided
from attnlab.sweeps.local.session import Session
from attnlab.sweeps.rounds import compared_count, decision_lines, run_rounds
from attnlab.sweeps.store.attempts import CELL_ATTR
from tests.test_until_decided import _session

NOISE = [0.03, -0.02, 0.05, -0.06, 0.01, -0.04, 0.02, -0.01, 0.04, -0.03, 0.06]


def _error(row: str, seed: int) -> float:
    channel_on = row.startswith("channel on")
    return 30.0 - 4.0 * channel_on + NOISE[(seed + 5 * channel_on + 2 * row.endswith("spatial on")) % len(NOISE)]


class Workers:
    def __init__(self, session: Session) -> None:
        self.session, self.rounds = session, []

    def __call__(self, cells: list[str]) -> int:
        self.rounds.append(sorted(cells))
        for name in cells:
            row, seed = name.rsplit("/seed", 1)
            trial = create_trial(
                state=TrialState.COMPLETE, value=_error(row, int(seed)), system_attrs={CELL_ATTR: name}
            )
            self.session.storage.create_new_trial(self.session.study_id, template_trial=trial)
        return 0


def test_rounds_add_a_whole_replicate_while_an_effect_is_open(tmp_path: Path) -> None:
    study = load_study("cbam-gates")
    assert compared_count(study) == 3  # two main effects and their interaction
    session = _session(tmp_path / "gates.journal")
    workers = Workers(session)
    plan = UntilDecided(max_seeds=6, step=1).plan(study)
    status, schedule = run_rounds(session, study, plan, 0, workers, Console(quiet=True))
    assert status == 0 and schedule.finished
    assert len(workers.rounds[0]) == 4 * 3
    assert workers.rounds[1:] == [sorted(f"{row}/seed{seed}" for row in study.rows) for seed in (3, 4, 5)]
    channel = schedule.decisions["channel gate"]
    assert (channel.look, channel.pairs, channel.mean < -3) == (0, 3, True)
    lines = decision_lines(schedule, study)
    assert "  channel gate (channel on vs channel off): better (sequential, look 1/4, 3 seeds)" in lines[1]
    assert lines[3].startswith("  channel gate × spatial gate: within noise at the maximum 6 seeds")
