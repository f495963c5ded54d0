"""A study keeps the settings it was created with; other settings are a one-line error, never mixed results."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from attnlab.errors import ConfigError
from attnlab.sweeps.store import settings as settings_module
from attnlab.sweeps.store.settings import open_study, stored_settings
from attnlab.sweeps.store.storage import open_storage

SETTINGS = {"kind": "cells", "profile": "quick", "overrides": {"trainer.max_epochs": 2}, "seeds": (0, 1)}


def _open(journal: str, settings: dict[str, Any]) -> optuna.Study:
    return open_study(open_storage(journal), journal, "s@quick", "minimize", settings, {"attnlab.profile": "quick"})


def test_created_once_then_reopened_with_the_same_settings(tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    created = _open(journal, SETTINGS)
    assert created.user_attrs["attnlab.profile"] == "quick"
    reopened = _open(journal, dict(SETTINGS))
    assert stored_settings(reopened) == {**SETTINGS, "seeds": [0, 1]}  # as stored (JSON)


def _with_a_result(study: optuna.Study) -> optuna.Study:
    study.add_trial(create_trial(state=TrialState.COMPLETE, value=1.0))
    return study


def test_other_overrides_are_refused_naming_both_once_a_trial_has_a_result(tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    _with_a_result(_open(journal, SETTINGS))
    with pytest.raises(ConfigError) as error:
        _open(journal, {**SETTINGS, "overrides": {"trainer.max_epochs": 5}})
    message = str(error.value)
    assert "--set trainer.max_epochs=2 then, --set trainer.max_epochs=5 now) and holds 1 finished result" in message
    assert "another name (name: in its file) or another --profile" in message and "\n" not in message


def test_a_study_without_results_starts_again_with_new_settings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = str(tmp_path / "s.journal")
    _open(journal, SETTINGS).add_trial(create_trial(state=TrialState.FAIL))  # e.g. every cell failed on a bad setting
    new = {**SETTINGS, "overrides": {"trainer.accelerator": "cpu"}}
    checked = []
    with caplog.at_level(logging.WARNING):
        study = open_study(
            open_storage(journal), journal, "s@quick", "minimize", new, {}, before_create=lambda: checked.append(1)
        )
    assert checked == [1]  # the new settings were checked as a new study's are
    assert stored_settings(study)["overrides"] == {"trainer.accelerator": "cpu"} and study.trials == []
    [line] = [record.getMessage() for record in caplog.records if "starting it again" in record.getMessage()]
    assert "has no finished result" in line and "1 earlier attempt(s), none with a result, are dropped" in line


def test_a_study_with_a_running_trial_keeps_its_settings(tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    _open(journal, SETTINGS).add_trial(create_trial(state=TrialState.RUNNING))
    with pytest.raises(ConfigError, match=r"created with other settings .* and holds 1 running trial"):
        _open(journal, {**SETTINGS, "overrides": {}})


def test_an_edited_profile_is_refused(tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    _with_a_result(_open(journal, {**SETTINGS, "profile_config": {"trainer": {"max_epochs": 6}}}))
    with pytest.raises(ConfigError, match="profile_config differs in trainer"):
        _open(journal, {**SETTINGS, "profile_config": {"trainer": {"max_epochs": 7}}})


def test_a_study_left_without_settings_says_how_to_remove_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = str(tmp_path / "s.journal")
    optuna.create_study(storage=open_storage(journal), study_name="s@quick")  # creator stopped right here
    monkeypatch.setattr(settings_module, "SETTINGS_WAIT_S", 0.3)
    with pytest.raises(ConfigError, match="optuna delete-study --study-name 's@quick'"):
        _open(journal, SETTINGS)
