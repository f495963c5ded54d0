"""``attnlab studies``: the built-in ablation studies and profiles, one study's rows, or a check of a study file.

``attnlab studies`` lists them; ``attnlab studies NAME`` (or a path to a study YAML) shows the rows
with their patches and the paper's numbers; ``--check`` validates every row against a profile
without training and, for one study, shows its design (runs, generators, aliases, cells per seed);
``--format json`` prints the same as JSON for scripts (the design under ``check``).
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import track
from rich.table import Table
from rich.text import Text

from attnlab.ablations import (
    DEFAULT_PROFILE,
    PAPER_COLUMNS,
    StudyDefinition,
    builtin_profiles,
    builtin_studies,
    load_study,
    parse_set_options,
    profile_description,
    validate_study,
)
from attnlab.ablations.factorial import design_summary
from attnlab.ablations.options import add_profile_options
from attnlab.ablations.overrides import format_value
from attnlab.cli.output import add_format_option, print_json, print_table, stdout_console
from attnlab.errors import ConfigError

HELP = "list the built-in ablation studies and profiles"
# Paper columns as the papers print them: header, decimals.
PAPER_FORMAT: dict[str, tuple[str, int]] = {
    "top1_err": ("paper\ntop-1 err", 2),
    "top5_err": ("paper\ntop-5 err", 2),
    "params_m": ("paper\nparams (M)", 2),
    "gflops": ("paper\nGFLOPs", 3),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnlab studies", description=__doc__)
    parser.add_argument("study", nargs="?", help="a built-in study's name or a study YAML file; omit to list all")
    add_format_option(parser, json_alias=True)
    parser.add_argument(
        "--check",
        action="store_true",
        help="validate every row's train config under --profile with --set (no data is read, nothing trains)",
    )
    add_profile_options(parser)
    return parser


def _cells(study: StudyDefinition) -> str:
    return f"{len(study.rows)} × {len(study.seeds)}"


def _profiles() -> dict[str, dict[str, str]]:
    return {
        name: {"path": str(path), "description": profile_description(path)} for name, path in builtin_profiles().items()
    }


def _print_catalogue(console: Console, studies: dict[str, StudyDefinition]) -> None:
    listing = Table(title="Built-in studies (attnlab studies NAME for the rows)", title_justify="left")
    for column in ("study", "rows × seeds", "description", "paper table"):
        listing.add_column(column, overflow="fold")
    for name, study in studies.items():
        listing.add_row(*(Text(text) for text in (name, _cells(study), study.description, study.reference)))
    profiles = Table(title=f"Profiles (--profile NAME, default {DEFAULT_PROFILE})", title_justify="left")
    for column in ("profile", "description", "file"):
        profiles.add_column(column, overflow="fold")
    for name, profile in _profiles().items():
        profiles.add_row(*(Text(text) for text in (name, profile["description"], profile["path"])))
    print_table(console, listing)
    console.print()
    print_table(console, profiles)


def _patch(patch: dict[str, Any], empty: str) -> str:
    """``key=value`` lines; a list value such as ``[avg, max]`` is text, never rich markup (so print it as Text)."""
    return "\n".join(f"{key}={format_value(value)}" for key, value in patch.items()) or empty


def _print_study(console: Console, study: StudyDefinition) -> None:
    console.print(f"[bold]{escape(study.name)}[/bold]: {escape(study.description)}")
    facts = {
        "file": str(study.source),
        "paper table": study.reference or "-",
        "metric": f"{study.metric} ({study.direction})",
        "seeds": ", ".join(str(seed) for seed in study.seeds),
        "cells": f"{_cells(study)} = {len(study.rows) * len(study.seeds)}",
        "baseline": study.baseline
        + (f" (within each {', '.join(study.compare_within)})" if study.compare_within else ""),
        "base": _patch(study.base, "(the profile as it is)").replace("\n", ", "),
    }
    for label, text in facts.items():
        console.print(f"  {label:<12} {text}", markup=False, highlight=False, soft_wrap=True)
    table = Table(title_justify="left")
    table.add_column("row", overflow="fold")
    table.add_column("patch on the base", overflow="fold")
    columns = [column for column in PAPER_COLUMNS if any(column in numbers for numbers in study.paper.values())]
    for column in columns:
        table.add_column(PAPER_FORMAT[column][0], justify="right")
    if study.compare_within:
        table.add_column("compared to", overflow="fold")
    for row, spec in study.rows.items():
        numbers = study.paper.get(row, {})
        cells = [f"{numbers[column]:.{PAPER_FORMAT[column][1]}f}" if column in numbers else "" for column in columns]
        if study.compare_within:
            cells.append("(baseline)" if study.baseline_for(row) == row else study.baseline_for(row))
        table.add_row(*(Text(text) for text in (row, _patch(spec.patch, "(the base)"), *cells)))
    print_table(console, table)


def _check(studies: dict[str, StudyDefinition], profile: str, overrides: dict[str, Any]) -> None:
    """Validates every row of every study; a progress bar on stderr, since all studies take seconds."""
    progress = Console(stderr=True)
    for study in track(studies.values(), description="validating", console=progress, transient=True):
        validate_study(study, profile, overrides)
    counted = "1 study" if len(studies) == 1 else f"{len(studies)} studies"
    progress.print(f"every row of {counted} validates under profile {profile!r}")


SHOWN_ALIAS_ORDER = 2  # aliases named up to two-factor interactions; higher orders counted


def _print_design(console: Console, summary: dict[str, Any]) -> None:
    """The design a study's cells form: its runs with their levels, and for a fraction what is aliased with what."""
    console.print()
    facts = {
        "design": summary["kind"],
        "cells": f"{summary['cells_per_seed']} per seed × {summary['seeds']} seeds = {summary['cells']}",
    }
    if "generators" in summary:
        facts["generators"] = ", ".join(summary["generators"]) or "none (every combination is a run)"
        facts["clear 2fi"] = ", ".join(summary["clear_interactions"]) or "none (each is aliased with another)"
    for label, text in facts.items():
        console.print(f"  {label:<12} {text}", markup=False, highlight=False, soft_wrap=True)
    runs = Table(title="Runs per seed", title_justify="left")
    runs.add_column("run", justify="right")
    runs.add_column("row", overflow="fold")
    axes = list(summary["runs"][0].get("levels", {})) if summary["runs"] else []
    for axis in axes:
        runs.add_column(axis, overflow="fold")
    if not axes:
        runs.add_column("compared to", overflow="fold")
    for number, run in enumerate(summary["runs"], start=1):
        levels = [run["levels"][axis] for axis in axes] if axes else [run["compared_to"]]
        runs.add_row(*(Text(text) for text in (str(number), run["row"], *levels)))
    print_table(console, runs)
    if "aliases" not in summary:
        return
    aliases = Table(title="Alias structure (each estimate is its effect plus these)", title_justify="left")
    aliases.add_column("effect", overflow="fold")
    aliases.add_column("aliased with", overflow="fold")
    for effect, others in summary["aliases"].items():
        named = [other for other in others if other.count(" × ") < SHOWN_ALIAS_ORDER]
        longer = len(others) - len(named)
        text = ", ".join(named + ([f"+{longer} of order > {SHOWN_ALIAS_ORDER}"] if longer else [])) or "none"
        aliases.add_row(Text(effect), Text(text))
    print_table(console, aliases)


def main(argv: list[str]) -> int:
    options = _parser().parse_args(argv)
    if not options.check and (options.overrides or options.profile != DEFAULT_PROFILE):
        raise ConfigError("--profile and --set: only apply with --check (validate the rows under that profile)")
    overrides = parse_set_options(options.overrides)
    chosen = load_study(options.study) if options.study else None
    studies = {chosen.name: chosen} if chosen else {name: load_study(path) for name, path in builtin_studies().items()}
    if options.check:
        _check(studies, options.profile, overrides)
    design = design_summary(chosen) if options.check and chosen else None
    if options.format == "json":
        dicts = {name: study.to_dict() for name, study in studies.items()}
        if chosen:
            print_json(dicts[chosen.name] | ({"check": design} if design else {}))
        else:
            print_json({"studies": dicts, "profiles": _profiles()})
    elif chosen:
        _print_study(stdout_console(), chosen)
        if design:
            _print_design(stdout_console(), design)
    else:
        _print_catalogue(stdout_console(), studies)
    return 0
