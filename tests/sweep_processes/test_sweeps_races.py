"""Real processes racing on one storage (journal file and PostgreSQL): a cell is claimed once, a study set up once."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState
from sweep_helpers import race

from attnlab.errors import ConfigError
from attnlab.sweeps.store.ledger import LiveLedger, claim
from attnlab.sweeps.store.settings import SETTINGS_ATTR, open_study
from attnlab.sweeps.store.storage import Heartbeat, open_storage

CELLS = ["base/seed0", "cbam/seed0"]


def _claim(url: str, start: Any, results: Any) -> None:
    storage = open_storage(url, heartbeat=Heartbeat(1, 3))
    study_id = storage.get_study_id_from_name("s@quick")
    live = LiveLedger(storage, study_id, CELLS, max_retries=2)
    start.wait()
    results.put(claim(live, "base/seed0") is not None)


def test_workers_racing_for_one_cell_agree_on_a_single_winner(shared_url: str) -> None:
    optuna.create_study(storage=open_storage(shared_url), study_name="s@quick")
    assert sorted(race(_claim, [(shared_url,)] * 4)) == [False, False, False, True]
    trials = optuna.load_study(study_name="s@quick", storage=open_storage(shared_url)).trials
    assert [trial.state for trial in trials].count(TrialState.RUNNING) == 1


def _launch(url: str, epochs: int, start: Any, results: Any) -> None:
    settings = {"kind": "cells", "overrides": {"trainer.max_epochs": epochs}}
    start.wait()
    try:
        open_study(open_storage(url), url, "s@quick", "minimize", settings, {})
        results.put(("ok", epochs))
    except ConfigError:
        results.put(("refused", epochs))


def test_launchers_starting_together_with_different_settings_never_both_proceed(shared_url: str) -> None:
    open_storage(shared_url)
    outcomes = race(_launch, [(shared_url, 2), (shared_url, 3), (shared_url, 2)])
    stored = optuna.load_study(study_name="s@quick", storage=open_storage(shared_url)).user_attrs[SETTINGS_ATTR]
    winner = stored["overrides"]["trainer.max_epochs"]
    assert sorted(outcomes) == sorted(("ok" if epochs == winner else "refused", epochs) for epochs in (2, 3, 2))
