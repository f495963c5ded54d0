"""A W&B sweep for a study: a grid over its cells, each run being ``attnlab ablate STUDY --cell ROW/seedN --wandb``.

The W&B agent substitutes ``${args}`` with ``--cell=ROW/seedN``; that command trains exactly that
cell (unless the Optuna storage says it is already finished), as one W&B run in the agent's sweep.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from attnlab.ablations import StudyDefinition
from attnlab.sweeps.store.storage import DEFAULT_STORAGE, optuna_study_name

GOALS = {"minimize": "minimize", "maximize": "maximize"}


def cell_command(
    study_ref: str, profile: str, overrides: Mapping[str, Any], storage: str, project: str | None
) -> list[str]:
    """The command an agent runs per cell; ``${args}`` becomes ``--cell=ROW/seedN``."""
    command = ["${env}", "attnlab", "ablate", study_ref, "--profile", profile]
    for key, value in overrides.items():
        command += ["--set", f"{key}={json.dumps(value)}"]
    if storage != DEFAULT_STORAGE:
        command += ["--storage", storage]
    command += ["--wandb", *(["--wandb-project", project] if project else []), "${args}"]
    return command


def sweep_config(
    study: StudyDefinition,
    study_ref: str,
    profile: str,
    overrides: Mapping[str, Any],
    *,
    storage: str = DEFAULT_STORAGE,
    project: str | None = None,
) -> dict[str, Any]:
    """The W&B sweep configuration: one grid point per cell, seed by seed."""
    config: dict[str, Any] = {
        "name": optuna_study_name(study.name, profile),
        "description": study.description,
        "method": "grid",
        "metric": {"name": study.metric, "goal": GOALS[study.direction]},
        "parameters": {"cell": {"values": [cell.name for cell in study.cells(overrides)]}},
        "command": cell_command(study_ref, profile, overrides, storage, project),
    }
    if project:
        config["project"] = project
    return config
