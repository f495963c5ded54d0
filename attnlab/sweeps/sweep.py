"""``attnlab sweep``: an Optuna search over config fields, on the same workers and storage as a study's cells.

The best trial's full train config is saved as YAML (``attnlab train -c best.yaml`` reproduces it)
and printed with its parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState
from rich.console import Console

from attnlab.errors import ConfigError
from attnlab.sweeps.cluster.slurm import check_slurm, launch_on_slurm
from attnlab.sweeps.cluster.slurm_options import SlurmOptions
from attnlab.sweeps.local.launcher import run_workers
from attnlab.sweeps.local.options import LaunchOptions
from attnlab.sweeps.local.placement import plan_placement
from attnlab.sweeps.local.session import Session, open_session, profile_settings
from attnlab.sweeps.store.records import ATTR_PREFIX, STUDY_PROFILE_ATTR
from attnlab.sweeps.store.storage import is_database, optuna_study_name
from attnlab.sweeps.workers.search_worker import SearchTally
from attnlab.sweeps.workers.sweep_file import SweepDefinition, load_sweep, validate_sweep

BEST_ROOT = Path("runs/sweeps")


def best_config(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The trial's resolved train config, without its per-trial log folder (a new run gets its own)."""
    config = dict(trial.user_attrs[f"{ATTR_PREFIX}config"])
    logger = config.get("trainer", {}).get("logger")
    if isinstance(logger, dict) and isinstance(logger.get("init_args"), dict) and "version" in logger["init_args"]:
        logger["init_args"]["version"] = None
    return config


def save_best(sweep: SweepDefinition, name: str, trial: optuna.trial.FrozenTrial, path: Path) -> None:
    """Writes the best trial's config as a train config, its provenance in the leading comments."""
    params = ", ".join(f"{key}={value}" for key, value in trial.params.items())
    header = [
        f"# Best trial of sweep {name}: trial {trial.number}, {sweep.metric} = {trial.value:.6g}",
        f"# Parameters: {params}",
        f"# Train it again: attnlab train -c {path.name}",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header) + "\n" + yaml.safe_dump(best_config(trial), sort_keys=False), encoding="utf-8")


def _report(sweep: SweepDefinition, session: Session, output: Path, console: Console) -> bool:
    """Prints the sweep's counts and best trial, saves the best config; False when no trial completed."""
    trials = session.study.get_trials(deepcopy=False)
    states = {state: sum(trial.state == state for trial in trials) for state in TrialState}
    console.print(
        f"{session.study.study_name}: {len(trials)} trials, {states[TrialState.COMPLETE]} complete, "
        f"{states[TrialState.PRUNED]} pruned, {states[TrialState.FAIL]} failed or void",
        markup=False,
        highlight=False,
    )
    if not states[TrialState.COMPLETE]:
        console.print("no trial completed: nothing to save", markup=False)
        return False
    best = session.study.best_trial
    save_best(sweep, session.study.study_name, best, output)
    console.print(f"best trial {best.number}: {sweep.metric} = {best.value:.6g}", markup=False, highlight=False)
    for key, value in best.params.items():
        console.print(f"  {key} = {value}", markup=False, highlight=False)
    console.print(f"config saved to {output}", markup=False, highlight=False)
    return True


def run_sweep(
    path: str | Path,
    options: LaunchOptions,
    *,
    output: Path | None = None,
    console: Console | None = None,
    slurm: SlurmOptions | None = None,
) -> int:
    """Runs the sweep at ``path`` to its ``n_trials``, then reports and saves the best trial; the exit status.

    With ``slurm``, the workers are submitted as a SLURM job array instead of started here.
    """
    console = console or Console()
    check_slurm(slurm, options)
    sweep = load_sweep(path)
    if options.devices_per_trial > 1 and sweep.pruner["name"] != "none" and not is_database(options.storage):
        raise ConfigError(
            "--devices-per-trial > 1 with pruning: Optuna prunes a DDP trial through a database; "
            "use --storage sqlite:///FILE or postgresql://..., or pruner: none"
        )
    placement = None if slurm else plan_placement(options.workers, options.devices, options.devices_per_trial)
    name = optuna_study_name(sweep.name, sweep.profile)
    settings = {"kind": "search", "definition": sweep.to_dict()} | profile_settings(sweep.profile)
    attrs = {STUDY_PROFILE_ATTR: sweep.profile}
    session = open_session(options, name, sweep.direction, settings, attrs, validate=lambda: validate_sweep(sweep))

    tally = SearchTally(session.storage, session.study_id)

    def progress() -> Any:
        return tally.refresh().progress(sweep.n_trials)

    before = progress()
    status = 0
    if before.finished >= sweep.n_trials:
        console.print(f"{name}: nothing to train, all {sweep.n_trials} trials are finished")
    elif slurm is not None:
        status = launch_on_slurm(options.worker_spec(name), slurm, options, session, progress, console)
        if not slurm.wait:
            return status
    else:
        todo = placement.limited_to(sweep.n_trials - before.finished)
        status = run_workers(options.worker_spec(name), todo, progress, console)
    found = _report(sweep, session, output or BEST_ROOT / name / "best.yaml", console)
    return status or (0 if found else 1)
