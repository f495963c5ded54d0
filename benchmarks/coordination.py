"""What coordinating a study costs as it grows: a claim + record, workers' throughput, status and report.

Training is replaced by a no-op (the worker's loop, claims, records, heartbeats and dashboard
annotations are attnlab's own), so every second measured is coordination. Studies are filled once
with finished trials that carry a real quick-profile cell's record (its resolved config, metrics and
validation curve, dashboard parameters), then measured; a measurement trains the next to-do cells, so the same filled
studies serve the code before a change and after it:

    python benchmarks/coordination.py fill --storage runs/coordination.journal
    PYTHONPATH=/path/to/old/checkout python benchmarks/coordination.py measure --storage ... --label before -o b.json
    python benchmarks/coordination.py measure --storage ... --label after -o a.json
    python benchmarks/coordination.py compare b.json a.json

``measure`` imports whichever attnlab comes first on the path, and uses only what old and new code
share (the worker's loop, ``WorkerContext``, the CLI). Exactly-once is checked from the storage:
every cell a throughput run trains ends with one complete trial.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import itertools
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import optuna
from optuna.trial import TrialState

REPO = Path(__file__).resolve().parents[1]
STUDY_FILE = REPO / "configs" / "quickstart-study.yaml"  # its rows, at as many seeds as a size needs
PROFILE = "quick"
SIZES = (100, 1000, 5000, 20_000)
LATENCY_TODO = 40  # to-do cells left in each latency study: enough for several measurements of a few claims
THROUGHPUT_SIZE = 1000
THROUGHPUT_TODO = 4000
DATABASE_TEMPLATES = 300  # trials a database study gets from Optuna itself; the rest are copied from them in SQL
CELL_ATTR = "attnlab.cell"
EPOCHS = 16


def study_name(size: int) -> str:
    """The latency study of ``size`` finished trials; size 0 names the throughput study."""
    return f"coordination-{size or 'workers'}@{PROFILE}"


def _fill_study(url: str, name: str, size: int, todo: int) -> None:
    """A study of ``size`` complete cells and ``todo`` cells to do, created as attnlab ablate creates one."""
    from attnlab.ablations import load_study
    from attnlab.sweeps.local.session import profile_settings
    from attnlab.sweeps.runs.trial_runs import train_args
    from attnlab.sweeps.store.attempts import runner_attrs
    from attnlab.sweeps.store.dashboard_meta import cell_params, design_distributions
    from attnlab.sweeps.store.records import STUDY_DEFINITION_ATTR, STUDY_PROFILE_ATTR, CellRecord
    from attnlab.sweeps.store.settings import open_study
    from attnlab.sweeps.store.storage import open_storage
    from attnlab.training import validate_train_args

    rows = len(load_study(STUDY_FILE).rows)
    definition = dataclasses.replace(
        load_study(STUDY_FILE), name=name.split("@")[0], seeds=tuple(range(math.ceil((size + todo) / rows)))
    )
    stored = {
        key: value for key, value in definition.to_dict().items() if key not in ("design", "resolution", "levels")
    }
    settings = {"kind": "cells", "definition": stored, "overrides": {}} | profile_settings(PROFILE)
    storage = open_storage(url)
    study = open_study(
        storage, url, name, "minimize", settings, {STUDY_DEFINITION_ATTR: stored, STUDY_PROFILE_ATTR: PROFILE}
    )
    if study.trials:
        print(f"{study.study_name}: already filled ({len(study.trials)} trials)")
        return
    every_cell = definition.cells()
    distributions = design_distributions(every_cell)
    cells = every_cell[:size]
    config = validate_train_args(train_args(str(_profile_file()), cells[0].overrides))
    started = time.perf_counter()
    by_optuna = size if not isinstance(storage, optuna.storages.RDBStorage) else min(size, DATABASE_TEMPLATES)
    for first in range(0, by_optuna, 500):
        batch = []
        for index, cell in enumerate(cells[first : min(first + 500, by_optuna)], start=first):
            error = 8.0 + (index % 97) / 50
            record = CellRecord(
                study=cell.study, row=cell.row, seed=cell.seed, axes=cell.axes, state="complete", config=config
            )
            record = dataclasses.replace(record, metrics={"test/top1_err": error, "val/top1_err": error + 0.3})
            batch.append(
                optuna.trial.create_trial(
                    state=TrialState.COMPLETE,
                    value=error,
                    params=cell_params(cell, distributions),
                    distributions=distributions,
                    user_attrs=record.to_user_attrs(),
                    system_attrs={CELL_ATTR: cell.name, **runner_attrs()},
                    intermediate_values={epoch: error + 10 / (1 + epoch) for epoch in range(EPOCHS)},
                )
            )
        study.add_trials(batch)
        print(f"{study.study_name}: {first + len(batch)}/{size} trials ({time.perf_counter() - started:.0f} s)")
    if size > by_optuna:
        _copy_rows_in_database(storage, study._study_id, by_optuna, size, len(definition.rows))
        print(
            f"{study.study_name}: {size}/{size} trials, copied in the database ({time.perf_counter() - started:.0f} s)"
        )


def _copy_rows_in_database(
    storage: optuna.storages.RDBStorage, study_id: int, first: int, size: int, rows: int
) -> None:
    """Trials ``first`` to ``size - 1`` as copies of trial ``number % first`` (same row: ``first`` is a whole
    number of seeds), their seed in the record, cell name, dashboard param and value set: Optuna's own
    inserts take ~0.1 s a trial, 30 minutes for 20,000."""
    from sqlalchemy import text

    copies = """
        WITH copied AS (SELECT t.trial_id, t.number, m.trial_id AS model FROM trials t
                        JOIN trials m ON m.study_id = t.study_id AND m.number = t.number % :first
                        WHERE t.study_id = :study AND t.number >= :first)"""
    statements = [
        """INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete)
           SELECT n, :study, 'COMPLETE', now(), now() FROM generate_series(:first, :size - 1) AS n""",
        copies
        + """ INSERT INTO trial_user_attributes (trial_id, key, value_json)
           SELECT c.trial_id, a.key,
                  CASE WHEN a.key = 'attnlab.seed' THEN (c.number / :rows)::text ELSE a.value_json END
           FROM copied c JOIN trial_user_attributes a ON a.trial_id = c.model""",
        copies
        + """ INSERT INTO trial_system_attributes (trial_id, key, value_json)
           SELECT c.trial_id, a.key, CASE WHEN a.key = 'attnlab.cell'
               THEN regexp_replace(a.value_json, '/seed[0-9]+"$', '/seed' || (c.number / :rows) || '"')
               ELSE a.value_json END
           FROM copied c JOIN trial_system_attributes a ON a.trial_id = c.model""",
        copies
        + """ INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
           SELECT c.trial_id, p.param_name,
                  CASE WHEN p.param_name = 'seed' THEN c.number / :rows ELSE p.param_value END, p.distribution_json
           FROM copied c JOIN trial_params p ON p.trial_id = c.model""",
        copies
        + """ INSERT INTO trial_values (trial_id, objective, value, value_type)
           SELECT c.trial_id, v.objective, 8.0 + (c.number % 97) / 50.0, v.value_type
           FROM copied c JOIN trial_values v ON v.trial_id = c.model""",
        copies
        + """ INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type)
           SELECT c.trial_id, i.step, i.intermediate_value, i.intermediate_value_type
           FROM copied c JOIN trial_intermediate_values i ON i.trial_id = c.model""",
    ]
    with storage.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), {"study": study_id, "first": first, "size": size, "rows": rows})


def _profile_file() -> Path:
    from attnlab.ablations import profile_path

    return Path(profile_path(PROFILE))


def _sweeps_module(room: str, name: str) -> ModuleType:
    """A module of attnlab.sweeps in its room, or where it lay before sweeps/ had rooms (the code measured
    may be older)."""
    try:
        return importlib.import_module(f"attnlab.sweeps.{room}.{name}")
    except ModuleNotFoundError:
        return importlib.import_module(f"attnlab.sweeps.{name}")


def _load(url: str, name: str) -> optuna.Study:
    storage = _sweeps_module("store", "storage").open_storage(url)
    return optuna.load_study(study_name=name, storage=storage)


def _to_do(url: str, name: str, count: int) -> list[str]:
    """The next ``count`` cells of the study that have no trial yet, in the study's order."""
    from attnlab.ablations import StudyDefinition

    study = _load(url, name)
    definition = StudyDefinition.from_dict(study.user_attrs["attnlab.settings"]["definition"])
    tried = {trial.system_attrs.get(CELL_ATTR) for trial in study.get_trials(deepcopy=False)}
    return [cell.name for cell in definition.cells() if cell.name not in tried][:count]


def run_worker(url: str, name: str, cells: list[str], slot: int) -> dict[str, Any]:
    """attnlab's worker loop over ``cells`` with training a no-op: when each cell's training began, and memory."""
    import attnlab.training

    cell_worker = _sweeps_module("workers", "cell_worker")
    outcome = _sweeps_module("runs", "execution").Outcome
    worker_spec = _sweeps_module("workers", "worker_spec")

    started = time.time()
    trainings: list[float] = []
    resolved: dict[str, Any] = {}

    def validate_once(args: list[str]) -> dict[str, Any]:  # the same resolved config every cell (once: ~1 s)
        if not resolved:
            resolved.update(validate(args))
        return resolved

    def no_training(spec: Any, devices: int) -> Any:
        trainings.append(time.time())
        metrics = {"test/top1_err": 9.0, "val/top1_err": 9.3}
        result = {"config": None, "metrics": metrics, "params": 1, "macs": 1, "train_images_per_s": 1.0}
        result |= {"peak_memory_mb": 1.0, "wall_time_s": 0.0, "best_checkpoint": None, "log_dir": None}
        return outcome("complete", result=result)

    validate = attnlab.training.validate_train_args
    attnlab.training.validate_train_args = validate_once
    cell_worker.execute = no_training
    cell_worker.ensure_step_timing = lambda context, cells: None
    context = worker_spec.WorkerContext.open(worker_spec.WorkerSpec(storage=url, study=name, cells=cells, slot=slot))
    opened = time.time()
    cell_worker.run_cells(context)
    return {
        "started": started,
        "opened": opened,
        "trainings": trainings,
        "ended": time.time(),
        "max_rss_mb": peak_rss_mb(),
        "attnlab": str(Path(cell_worker.__file__).parents[2]),
    }


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM of its memory map where Linux has it.

    ``ru_maxrss`` is kept across ``execve``, so a worker started by a parent that had read a whole study would
    report the parent's peak as its own.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_process(url: str, name: str, cells: list[str], slot: int, cpus: set[int] | None) -> subprocess.Popen:
    command = [sys.executable, __file__, "worker", url, name, json.dumps(cells), str(slot)]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, env=env, preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    )


def _worker_results(processes: list[subprocess.Popen]) -> list[dict[str, Any]]:
    results = []
    for process in processes:
        output, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"a worker ended with exit status {process.returncode}")
        results.append(json.loads(output.decode().strip().splitlines()[-1]))
    return results


def measure_latency(url: str, size: int, claims: int) -> dict[str, Any]:
    """One worker trains ``claims`` cells of a study of ``size``: its start and the median claim + record."""
    cells = _to_do(url, study_name(size), claims)
    (result,) = _worker_results([_worker_process(url, study_name(size), cells, 0, None)])
    starts = result["trainings"]
    between = [later - earlier for earlier, later in itertools.pairwise(starts)]
    return {
        "size": size,
        "first_claim_s": starts[0] - result["opened"],
        "claim_record_s": statistics.median(between),
        "claims": len(between),
        "max_rss_mb": result["max_rss_mb"],
        "attnlab": result["attnlab"],
    }


def measure_throughput(url: str, workers: int, cells_per_worker: int) -> dict[str, Any]:
    """``workers`` processes share one round of cells; cells per second between the first claim and the last
    record, read from the storage, and whether every cell ended with exactly one complete trial."""
    name = study_name(0)
    cells = _to_do(url, name, workers * cells_per_worker)
    cores = sorted(os.sched_getaffinity(0))
    processes = [_worker_process(url, name, cells, slot, {cores[slot % len(cores)]}) for slot in range(workers)]
    _worker_results(processes)
    trials = [
        trial
        for trial in _load(url, name).get_trials(deepcopy=False)
        if trial.system_attrs.get(CELL_ATTR) in set(cells)
    ]
    complete = Counter(trial.system_attrs[CELL_ATTR] for trial in trials if trial.state == TrialState.COMPLETE)
    first = min(trial.datetime_start for trial in trials)
    last = max(trial.datetime_complete for trial in trials if trial.datetime_complete is not None)
    return {
        "workers": workers,
        "cells": len(cells),
        "cells_per_s": len(cells) / max((last - first).total_seconds(), 1e-9),
        "exactly_once": all(complete[cell] == 1 for cell in cells),
        "attempts": len(trials),
    }


def time_command(arguments: list[str], timeout_s: float) -> float | None:
    """Seconds an ``attnlab`` command took (the attnlab first on the path), None past ``timeout_s``."""
    started = time.perf_counter()
    try:
        subprocess.run(
            [sys.executable, "-m", "attnlab", *arguments],
            check=True,
            timeout=timeout_s,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - started


def measure(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"label": args.label, "storage": args.storage, "latency": [], "throughput": []}
    for size in args.sizes:
        row = measure_latency(args.storage, size, args.claims)
        print(
            f"{size:>6} trials: claim + record {row['claim_record_s'] * 1000:.0f} ms (median of {row['claims']}), "
            f"first claim {row['first_claim_s']:.1f} s, worker peak RSS {row['max_rss_mb']:.0f} MB",
            flush=True,
        )
        results["latency"].append(row)
    for workers in args.workers:
        row = measure_throughput(args.storage, workers, args.cells_per_worker)
        print(
            f"{workers} workers: {row['cells_per_s']:.2f} cells/s over {row['cells']} cells, "
            f"exactly once: {row['exactly_once']} ({row['attempts']} attempts)",
            flush=True,
        )
        results["throughput"].append(row)
    biggest = study_name(max(args.sizes)).split("@")[0]
    with tempfile.TemporaryDirectory() as folder:
        status = time_command(
            ["status", f"{biggest}@{PROFILE}", "--storage", args.storage, "--format", "json"], args.timeout
        )
        report = time_command(
            ["report", biggest, "--profile", PROFILE, "--storage", args.storage, "-o", folder], args.timeout
        )
    results["status_s"], results["report_s"] = status, report
    print(f"status of {biggest}: {_seconds(status, args.timeout)}; report: {_seconds(report, args.timeout)}")
    return results


def _seconds(value: float | None, timeout_s: float = math.inf) -> str:
    return f"> {timeout_s:.0f} s" if value is None else f"{value:.1f} s"


def compare(before: dict[str, Any], after: dict[str, Any]) -> None:
    """One Markdown table: each figure before and after, and how the claim grows from the smallest study."""
    print(f"| {before['storage']} | {before['label']} | {after['label']} |")
    print("|---|---|---|")
    for old, new in zip(before["latency"], after["latency"], strict=True):
        print(
            f"| claim + record at {old['size']:,} trials | {old['claim_record_s'] * 1000:.0f} ms | "
            f"{new['claim_record_s'] * 1000:.0f} ms |"
        )
    for results in (before, after):
        rows = results["latency"]
        results["growth"] = rows[-1]["claim_record_s"] / rows[0]["claim_record_s"]
    print(
        f"| growth {before['latency'][0]['size']:,} → {before['latency'][-1]['size']:,} | "
        f"{before['growth']:.1f}× | {after['growth']:.1f}× |"
    )
    print(
        f"| worker peak RSS at {before['latency'][-1]['size']:,} | {before['latency'][-1]['max_rss_mb']:.0f} MB | "
        f"{after['latency'][-1]['max_rss_mb']:.0f} MB |"
    )
    for old, new in zip(before["throughput"], after["throughput"], strict=True):
        once = "" if old["exactly_once"] and new["exactly_once"] else " (NOT exactly once)"
        print(f"| {old['workers']} workers, cells/s | {old['cells_per_s']:.2f} | {new['cells_per_s']:.2f}{once} |")
    for key in ("status_s", "report_s"):
        print(f"| {key.removesuffix('_s')} | {_seconds(before[key])} | {_seconds(after[key])} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fill = commands.add_parser("fill", help="create and fill the studies (once per storage)")
    fill.add_argument("--storage", required=True, help="journal file or database URL")
    fill.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    fill.add_argument("--no-throughput-study", action="store_true", help="fill the latency studies only")
    run = commands.add_parser("measure", help="measure the attnlab first on the path")
    run.add_argument("--storage", required=True)
    run.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    run.add_argument("--claims", type=int, default=5, help="cells one worker trains per size (default 5)")
    run.add_argument("--workers", type=int, nargs="*", default=[1, 4, 8])
    run.add_argument("--cells-per-worker", type=int, default=15)
    run.add_argument("--timeout", type=float, default=300.0, help="seconds before status or report counts as too slow")
    run.add_argument("--label", default="this checkout")
    run.add_argument("-o", "--output", type=Path, help="also write the figures as JSON here (for compare)")
    both = commands.add_parser("compare", help="one table from two measure outputs")
    both.add_argument("before", type=Path)
    both.add_argument("after", type=Path)
    worker = commands.add_parser("worker", help=argparse.SUPPRESS)
    for field in ("url", "name", "cells", "slot"):
        worker.add_argument(field)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.command == "fill":
        for size in args.sizes:
            _fill_study(args.storage, study_name(size), size, LATENCY_TODO)
        if not args.no_throughput_study:
            _fill_study(args.storage, study_name(0), THROUGHPUT_SIZE, THROUGHPUT_TODO)
    elif args.command == "measure":
        results = measure(args)
        if args.output:
            args.output.write_text(json.dumps(results, indent=1))
    elif args.command == "compare":
        compare(json.loads(args.before.read_text()), json.loads(args.after.read_text()))
    else:
        print(json.dumps(run_worker(args.url, args.name, json.loads(args.cells), int(args.slot))))


if __name__ == "__main__":
    main()
