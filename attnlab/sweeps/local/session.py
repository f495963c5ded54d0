"""What ``attnlab ablate`` and ``attnlab sweep`` do before their workers start: every check, then the study."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.storages import BaseStorage

from attnlab.sweeps.local.options import LaunchOptions
from attnlab.sweeps.runs.wandb_runs import check_ready
from attnlab.sweeps.store.settings import open_study
from attnlab.sweeps.store.storage import open_storage


@dataclass(frozen=True)
class Session:
    """The storage and the Optuna study a launcher drives."""

    storage: BaseStorage
    study: optuna.Study
    study_id: int


def profile_settings(profile: str) -> dict[str, Any]:
    """The profile's name and content: a profile file edited between two runs of a study is caught."""
    from attnlab.ablations.registry import profile_path, read_profile

    return {"profile": profile, "profile_config": read_profile(profile_path(profile))}


def open_session(
    options: LaunchOptions,
    name: str,
    direction: str,
    settings: dict[str, Any],
    attrs: dict[str, Any],
    validate: Callable[[], None],
) -> Session:
    """Checks W&B and the storage, then opens the study, or ``validate``s the settings and creates it."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if options.wandb:
        check_ready()
    storage = open_storage(options.storage, storage_timeout_s=options.storage_timeout_s)
    study = open_study(storage, options.storage, name, direction, settings, attrs, before_create=validate)
    return Session(storage, study, storage.get_study_id_from_name(name))
