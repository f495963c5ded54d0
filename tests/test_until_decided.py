"""``--until-decided`` rounds on a real Optuna journal, with cells "trained" by writing their results directly.

The rounds' logic (which cells each round asks for, that decided rows get no more seeds, that a
resumed launcher continues the same schedule, that the plan cannot change) is checked without
training; tests/sweep_processes/test_until_decided_processes.py runs it with real workers.
"""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState, create_trial
from rich.console import Console

from attnlab.ablations import RowSpec, StudyDefinition
from attnlab.errors import ConfigError
from attnlab.reports.aggregate import aggregate, scheduled_cells
from attnlab.reports.cells import cell_frame
from attnlab.reports.report import build_report, write_report
from attnlab.reports.spec import LoadedStudy, StudySpec
from attnlab.stats.sequential import BETTER_OR_WORSE, EQUIVALENT, OPEN
from attnlab.sweeps.ablation import UntilDecided
from attnlab.sweeps.local.session import Session
from attnlab.sweeps.rounds import run_rounds
from attnlab.sweeps.store.attempts import CELL_ATTR
from attnlab.sweeps.store.records import CellRecord
from attnlab.sweeps.store.storage import open_storage

# Top-1 error per seed: "worse" is 3 points above the baseline, "same" is the baseline ± 0.1, "noisy"
# wanders ±2 around it (open until the maximum seeds).
BASE = [30.0, 31.0, 29.5, 30.4, 29.8, 30.9, 30.1, 29.6]
VALUES = {
    "base": BASE,
    "worse": [value + 3.0 + 0.2 * (index % 3) for index, value in enumerate(BASE)],
    "same": [value + (0.1 if index % 2 else -0.1) for index, value in enumerate(BASE)],
    "noisy": [value + delta for value, delta in zip(BASE, [2.0, -1.5, 1.0, -2.0, 1.5, -1.0, 2.0, -2.5], strict=True)],
}


def _definition() -> StudyDefinition:
    return StudyDefinition(
        name="synthetic",
        description="rows with known differences",
        base={},
        rows={row: RowSpec() for row in VALUES},
        seeds=(0, 1, 2),
        metric="test/top1_err",
        direction="minimize",
        baseline="base",
    )


def _session(path: Path) -> Session:
    storage = open_storage(str(path))
    study = optuna.create_study(storage=storage, study_name="synthetic@quick")
    return Session(storage, study, storage.get_study_id_from_name("synthetic@quick"))


class FakeWorkers:
    """Completes each cell of a round with its known value; ``stop_after`` cells in all, then "interrupted"."""

    def __init__(self, session: Session, stop_after: int | None = None) -> None:
        self.session, self.stop_after, self.rounds, self.trained = session, stop_after, [], []

    def __call__(self, cells: list[str]) -> int:
        self.rounds.append(list(cells))
        for name in cells:
            if self.stop_after is not None and len(self.trained) >= self.stop_after:
                return 130
            row, seed = name.rsplit("/seed", 1)
            trial = create_trial(
                state=TrialState.COMPLETE, value=VALUES[row][int(seed)], system_attrs={CELL_ATTR: name}
            )
            self.session.storage.create_new_trial(self.session.study_id, template_trial=trial)
            self.trained.append(name)
        return 0


def _run(session: Session, workers: FakeWorkers, until: UntilDecided) -> tuple[int, object]:
    definition = _definition()
    return run_rounds(session, definition, until.plan(definition), 0, workers, Console(quiet=True))


UNTIL = UntilDecided(max_seeds=8, margin=0.5, step=1)


def test_rounds_add_seeds_only_to_open_rows(tmp_path: Path) -> None:
    session = _session(tmp_path / "a.journal")
    workers = FakeWorkers(session)
    status, schedule = _run(session, workers, UNTIL)
    assert status == 0 and schedule.finished
    assert len(workers.rounds[0]) == 4 * 3  # the study's own seeds, every row
    assert sorted(workers.rounds[1]) == ["base/seed3", "noisy/seed3", "same/seed3", "worse/seed3"]
    decisions = schedule.decisions
    assert decisions["worse"].verdict == BETTER_OR_WORSE
    assert decisions["same"].verdict == EQUIVALENT
    assert decisions["noisy"].verdict == OPEN and decisions["noisy"].pairs == 8  # at the maximum
    last_seed_of = {
        row: max(int(name.rsplit("seed", 1)[1]) for name in workers.trained if name.startswith(row + "/"))
        for row in VALUES
    }
    assert last_seed_of["noisy"] == last_seed_of["base"] == 7
    assert last_seed_of["worse"] == 2 + decisions["worse"].look  # no seed after the look that decided it
    assert len(set(workers.trained)) == len(workers.trained)  # no cell twice
    again = FakeWorkers(session)
    assert _run(session, again, UNTIL)[0] == 0 and again.rounds == []  # finished: nothing more


def test_a_resumed_launcher_continues_the_same_schedule(tmp_path: Path) -> None:
    straight = FakeWorkers(_session(tmp_path / "straight.journal"))
    _run(straight.session, straight, UNTIL)
    resumed_session = _session(tmp_path / "resumed.journal")
    first = FakeWorkers(resumed_session, stop_after=14)  # interrupted in the middle of round 2
    assert _run(resumed_session, first, UNTIL)[0] == 130
    second = FakeWorkers(resumed_session)
    assert _run(resumed_session, second, UNTIL)[0] == 0
    assert sorted(first.trained + second.trained) == sorted(straight.trained)


def test_another_plan_is_refused(tmp_path: Path) -> None:
    session = _session(tmp_path / "a.journal")
    _run(session, FakeWorkers(session, stop_after=0), UNTIL)
    with pytest.raises(ConfigError, match=r"--max-seeds 8 --seeds-per-round 1 --margin 0\.5"):
        _run(session, FakeWorkers(session), UntilDecided(max_seeds=10, margin=0.5, step=1))


def test_report_reads_the_sequential_verdicts(tmp_path: Path) -> None:
    session = _session(tmp_path / "a.journal")
    workers = FakeWorkers(session)
    _run(session, workers, UNTIL)
    definition = _definition()
    spec = StudySpec.from_definition(definition, "quick", UNTIL.plan(definition))
    records = []
    for name in workers.trained:
        row, seed = name.rsplit("/seed", 1)
        metrics = {"test/top1_err": VALUES[row][int(seed)]}
        records.append(CellRecord(study="synthetic", row=row, seed=int(seed), metrics=metrics, state="complete"))
    spec = spec.including(records)
    cells = scheduled_cells(cell_frame(records, spec), spec)
    assert (cells["state"] == "complete").all()  # rows decided early are not "missing" their later seeds
    summary = aggregate(cells, spec).set_index("row")
    assert summary.loc["worse", "verdict"].startswith("worse (sequential, look ")
    assert summary.loc["same", "verdict"].startswith("equivalent within ±0.5 (sequential")
    assert summary.loc["noisy", "verdict"] == "within noise at the maximum 8 seeds (sequential)"
    assert summary.loc["worse", "seq.ci_low"] > 0

    report = build_report(LoadedStudy(spec, records, "synthetic"), effect=0.5)
    write_report(report, tmp_path / "report")
    rows = {row["row"]: row for row in json.loads((tmp_path / "report" / "summary.json").read_text())["rows"]}
    assert rows["same"]["seq.verdict"] == summary.loc["same", "verdict"] and rows["same"]["paired.mdd"] > 0
    assert rows["noisy"]["paired.seeds_needed"] > 8
    assert "Δ repeated CI" in (tmp_path / "report" / "report.html").read_text()
    assert "seq.ci_low" in (tmp_path / "report" / "summary.csv").read_text().splitlines()[0]
