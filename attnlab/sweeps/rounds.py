"""Seeds until decided (``attnlab ablate --until-decided``): rounds of extra seeds for the rows still open.

A round is the cells the sequential rule (:mod:`attnlab.stats.sequential`) asks for next: the
study's own seeds first, then more seeds for each row whose verdict is still open and for its
baseline. The launcher replays the rule on the stored results, runs the ordinary workers on the
round's cells (exactly once, resumable, any number of launchers and workers, any storage), reads
the results back and decides again, until every row is decided or has the maximum seeds. The
schedule is a function of the stored results alone, so a resumed or a second launcher continues
the same one. The plan is stored with the study at the first round; a later launch with another
plan is refused, since changing the looks after seeing results would void the error rates.

A factorial study is decided effect by effect instead of row by row: each round trains the next seeds on every
run of the design (one more replicate each) while any effect is still open, α split over the effects
(:func:`attnlab.stats.sequential.replay_factorial`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from rich.console import Console

from attnlab.ablations import StudyDefinition
from attnlab.ablations.definition import cell_name
from attnlab.ablations.factorial import factorial_layout
from attnlab.errors import ConfigError
from attnlab.stats.effects import estimable_words
from attnlab.stats.sequential import (
    OPEN,
    PLAN_ATTR,
    CellValue,
    Schedule,
    SequentialPlan,
    decision_text,
    replay,
    replay_factorial,
)
from attnlab.sweeps.local.session import Session
from attnlab.sweeps.store.ledger import LiveLedger

_PLAN_FIELDS = ("seeds", "first_look", "step", "margin", "alpha", "compared_rows")


def study_baselines(definition: StudyDefinition) -> dict[str, str]:
    """Every row with the row it is compared with (a baseline with itself)."""
    return {row: definition.baseline_for(row) for row in definition.rows}


def compared_count(definition: StudyDefinition) -> int:
    """How many verdicts α is split over: the estimable effects of a factorial study, else the compared rows."""
    layout = factorial_layout(definition)
    if layout is not None:
        return len(estimable_words(layout.design))
    return sum(baseline != row for row, baseline in study_baselines(definition).items())


def study_schedule(plan: SequentialPlan, definition: StudyDefinition, value: CellValue) -> Schedule:
    """The replay of the study's looks: effect by effect for a factorial study, row by row otherwise."""
    layout = factorial_layout(definition)
    if layout is not None:
        return replay_factorial(plan, layout.design, layout.run_rows, value)
    return replay(plan, study_baselines(definition), value)


def recorded_plan(session: Session, plan: SequentialPlan) -> SequentialPlan:
    """The study's stored plan: ``plan`` if it has none yet; a ConfigError if it has another."""
    stored = session.study.user_attrs.get(PLAN_ATTR)
    if stored is None:
        session.study.set_user_attr(PLAN_ATTR, plan.to_dict())
        stored = session.study.user_attrs[PLAN_ATTR]
    wanted = plan.to_dict()
    differing = [field for field in _PLAN_FIELDS if stored[field] != wanted[field]]
    if differing:
        then = SequentialPlan.from_dict(stored)
        raise ConfigError(
            f"--until-decided: study {session.study.study_name!r} runs under another plan ({', '.join(differing)} "
            f"differ): run it with --max-seeds {then.max_seeds} --seeds-per-round {then.step}"
            + (f" --margin {then.margin:g}" if then.margin is not None else "")
        )
    return SequentialPlan.from_dict(stored)


def stored_values(live: LiveLedger, cells: set[str]) -> CellValue:
    """(row, seed) -> the study's metric for a complete cell, NaN for one failed for good, None otherwise;
    read through the ledger kept current from the trials that changed since the last round."""
    ledger = live.current()

    def value(row: str, seed: int) -> float | None:
        name = cell_name(row, seed)
        complete = ledger.complete_value(name)
        if complete is not None:
            return complete
        return math.nan if name in cells and ledger.is_failed(name) else None

    return value


def run_rounds(
    session: Session,
    definition: StudyDefinition,
    plan: SequentialPlan,
    max_retries: int,
    run_round: Callable[[list[str]], int],
    console: Console,
) -> tuple[int, Schedule]:
    """Runs rounds until the schedule is finished; ``run_round(cells)`` trains them (its exit status).

    The stored plan is checked again every round: of two launchers that first stored different
    plans at the same moment, the one whose plan was overwritten stops at its next round.
    """
    every_cell = [cell_name(row, seed) for seed in plan.seeds for row in definition.rows]
    verdicts = "effects" if definition.factorial else "rows"
    live = LiveLedger(session.storage, session.study_id, every_cell, max_retries)
    while True:
        plan = recorded_plan(session, plan)
        schedule = study_schedule(plan, definition, stored_values(live, set(every_cell)))
        if schedule.finished:
            return 0, schedule
        todo = [cell_name(row, seed) for row, seed in schedule.todo]
        still_open = sum(decision.verdict == OPEN for decision in schedule.decisions.values())
        console.print(
            f"round {schedule.round + 1}/{len(plan.looks)}: {len(todo)} cells to train "
            f"({still_open} {verdicts} open, up to {plan.looks[schedule.round]} seeds)",
            highlight=False,
        )
        status = run_round(todo)
        if status != 0:
            return status, schedule
        after = study_schedule(plan, definition, stored_values(live, set(every_cell)))
        if after.round == schedule.round and after.todo:  # workers ended with the round unfinished
            return 1, after


def decision_lines(schedule: Schedule, definition: StudyDefinition) -> list[str]:
    """One line per compared row (a factorial study: per effect, its high level against its low): its verdict so far."""
    lower_is_better = definition.direction == "minimize"
    layout = factorial_layout(definition)
    lines = [f"sequential rule: {schedule.plan.describe()}"]
    for row, decision in schedule.decisions.items():
        interval = "" if math.isnan(decision.low) else f", Δ repeated CI [{decision.low:.2f}, {decision.high:.2f}]"
        signed, label = True, row
        if layout is not None:
            signed = len(decision.baseline) == 1  # an interaction has no better side
            if signed:
                low, high = layout.levels[row]
                label = f"{row} ({high} vs {low})"
        lines.append(f"  {label}: {decision_text(schedule, row, lower_is_better, signed=signed)}{interval}")
    return lines
