"""What a study was created with, stored once in the Optuna study, so results are never silently mixed.

Optuna creates a study atomically by name in every storage, so exactly one launcher creates it.
That launcher alone writes the settings (the study or sweep definition, the profile's name and
content, the ``--set`` overrides), the complete settings last, as one attribute. Every other
launcher waits for that attribute and compares: different settings are a one-line error once a
trial has a result. A study with no result yet and nothing running (e.g. every cell failed on a bad
trainer setting) starts again under the new settings instead, and one line says so. Workers read
their job from the stored settings, never from their own command line, so every trial of a study
runs what the study was created with.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.exceptions import DuplicatedStudyError
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from attnlab.errors import ConfigError

SETTINGS_ATTR = "attnlab.settings"
LOG_FOLDER_ATTR = "attnlab.log_folder"
SETTINGS_WAIT_S = 30.0  # how long a launcher waits for the creating launcher to finish writing the settings
_POLL_S = 0.2
RESULTS = (TrialState.COMPLETE, TrialState.PRUNED)  # trials that hold a result: their settings are kept for good
_logger = logging.getLogger(__name__)


def _as_stored(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` as they read back from any storage (JSON: tuples become lists, keys strings)."""
    return json.loads(json.dumps(settings))


def _difference(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    """The first setting that differs, said the way a user would change it."""
    for key in sorted(set(stored) | set(wanted)):
        before, now = stored.get(key), wanted.get(key)
        if before == now:
            continue
        if key == "overrides":
            return f"--set {_as_set(before)} then, --set {_as_set(now)} now"
        if isinstance(before, Mapping) and isinstance(now, Mapping):
            inner = sorted(field for field in set(before) | set(now) if before.get(field) != now.get(field))
            return f"{key} differs in {', '.join(map(str, inner))}"
        return f"{key} {before!r} then, {now!r} now"
    return "nothing"


def _as_set(overrides: Any) -> str:
    if not overrides:
        return "(none)"
    return " ".join(f"{key}={json.dumps(value)}" for key, value in overrides.items())


def _wait_for_settings(study: optuna.Study, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + SETTINGS_WAIT_S
    while SETTINGS_ATTR not in study.user_attrs:
        if time.monotonic() > deadline:
            raise ConfigError(
                f"study {study.study_name!r} in {url} has no recorded settings (its first launcher stopped while "
                f"creating it); delete it with: optuna delete-study --study-name '{study.study_name}' --storage {url}"
            )
        time.sleep(_POLL_S)
    return study.user_attrs[SETTINGS_ATTR]


def _compare(study: optuna.Study, url: str, wanted: dict[str, Any]) -> optuna.Study:
    stored = _wait_for_settings(study, url)
    if stored != wanted:
        raise _other_settings(study, url, stored, wanted)
    return study


def _other_settings(study: optuna.Study, url: str, stored: dict[str, Any], wanted: dict[str, Any]) -> ConfigError:
    results = len(study.get_trials(deepcopy=False, states=RESULTS))
    running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)))
    held = "has no trial yet (another launcher may be starting it)"
    if running:
        held = f"holds {running} running trial(s)"
    if results:
        held = f"holds {results} finished result{'s' * (results != 1)}"
    return ConfigError(
        f"study {study.study_name!r} in {url} was created with other settings ({_difference(stored, wanted)}) and "
        f"{held}; run it as created, or keep both: give the study another name (name: in its file) or "
        "another --profile, or use another --storage"
    )


def _restart_if_without_results(
    study: optuna.Study, storage: BaseStorage, url: str, wanted: dict[str, Any], validate: Callable[[], None]
) -> bool:
    """Drops a study created with other settings when it has trials but none has a result or is running (once
    the new settings passed ``validate``); False when the study has ``wanted`` and is kept.

    A study without any trial is kept: it may be one another launcher is starting right now.
    """
    stored = _wait_for_settings(study, url)
    if stored == wanted:
        return False
    held = study.get_trials(deepcopy=False, states=(*RESULTS, TrialState.RUNNING, TrialState.WAITING))
    if held or not study.get_trials(deepcopy=False):
        raise _other_settings(study, url, stored, wanted)
    validate()
    _logger.warning(
        "study %r in %s has no finished result: starting it again with the new settings (%s; its %d earlier "
        "attempt(s), none with a result, are dropped)",
        study.study_name,
        url,
        _difference(stored, wanted),
        len(study.trials),
    )
    with contextlib.suppress(KeyError):  # another launcher dropped it first
        optuna.delete_study(study_name=study.study_name, storage=storage)
    return True


def open_study(
    storage: BaseStorage,
    url: str,
    name: str,
    direction: str,
    settings: Mapping[str, Any],
    attrs: Mapping[str, Any],
    *,
    before_create: Callable[[], None] = lambda: None,
) -> optuna.Study:
    """The Optuna study ``name``: loaded if it has ``settings``, else created with them (and the study ``attrs``).

    ``before_create`` (the checks of the settings against the train config) runs only when the study
    is new: a study that exists with the same settings passed them when it was created. Raises
    ``ConfigError`` when the study exists with other settings and holds a result or a running trial;
    one without either starts again with ``settings``.
    """
    wanted = _as_stored(settings)
    if name in optuna.get_all_study_names(storage):
        study = optuna.load_study(study_name=name, storage=storage)
        if not _restart_if_without_results(study, storage, url, wanted, before_create):
            return study
    else:
        before_create()
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction=direction)
    except DuplicatedStudyError:  # another launcher created it meanwhile
        return _compare(optuna.load_study(study_name=name, storage=storage), url, wanted)
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    study.set_user_attr(LOG_FOLDER_ATTR, f"{name}-{secrets.token_hex(4)}")
    study.set_user_attr(SETTINGS_ATTR, wanted)  # last: once it is there, the study is fully set up
    return study


def log_folder(study: optuna.Study) -> str:
    """Where the study's runs log under the logger's ``SAVE_DIR/NAME``: its name and a token drawn at creation.

    Two storages holding a study of the same name (the same study under other overrides, a rerun from
    scratch) then never share run folders, so neither overwrites the other's logs nor resumes from its
    checkpoints. Studies created before the token existed keep their plain name.
    """
    return study.user_attrs.get(LOG_FOLDER_ATTR, study.study_name)


def stored_settings(study: optuna.Study) -> dict[str, Any]:
    """The settings a study was created with (for workers, which take their job from them)."""
    if SETTINGS_ATTR not in study.user_attrs:
        raise ConfigError(f"study {study.study_name!r} was not created by attnlab (it has no {SETTINGS_ATTR})")
    return study.user_attrs[SETTINGS_ATTR]
