"""A study keeps the settings it was created with; other settings are a one-line error, never mixed results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from attnlab.errors import ConfigError
from attnlab.sweeps import settings as settings_module
from attnlab.sweeps.settings import open_study, stored_settings
from attnlab.sweeps.storage import open_storage

SETTINGS = {"kind": "cells", "profile": "quick", "overrides": {"trainer.max_epochs": 2}, "seeds": (0, 1)}


def _open(journal: str, settings: dict[str, Any]) -> optuna.Study:
    return open_study(open_storage(journal), journal, "s@quick", "minimize", settings, {"attnlab.profile": "quick"})


def test_created_once_then_reopened_with_the_same_settings(tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    created = _open(journal, SETTINGS)
    assert created.user_attrs["attnlab.profile"] == "quick"
    reopened = _open(journal, dict(SETTINGS))
    assert stored_settings(reopened) == {**SETTINGS, "seeds": [0, 1]}  # as stored (JSON)


def test_other_overrides_are_refused_naming_both(tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    _open(journal, SETTINGS)
    with pytest.raises(ConfigError) as error:
        _open(journal, {**SETTINGS, "overrides": {"trainer.max_epochs": 5}})
    message = str(error.value)
    assert "--set trainer.max_epochs=2 then, --set trainer.max_epochs=5 now" in message and "\n" not in message


def test_an_edited_profile_is_refused(tmp_path: Path) -> None:
    journal = str(tmp_path / "s.journal")
    _open(journal, {**SETTINGS, "profile_config": {"trainer": {"max_epochs": 6}}})
    with pytest.raises(ConfigError, match="profile_config differs in trainer"):
        _open(journal, {**SETTINGS, "profile_config": {"trainer": {"max_epochs": 7}}})


def test_a_study_left_without_settings_says_how_to_remove_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = str(tmp_path / "s.journal")
    optuna.create_study(storage=open_storage(journal), study_name="s@quick")  # creator stopped right here
    monkeypatch.setattr(settings_module, "SETTINGS_WAIT_S", 0.3)
    with pytest.raises(ConfigError, match="optuna delete-study --study-name 's@quick'"):
        _open(journal, SETTINGS)
