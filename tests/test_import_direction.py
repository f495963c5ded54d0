"""The house's layers point one way: nothing below the command line imports it, and each layer
imports only the layers beneath it (walked over every module's import statements)."""

from __future__ import annotations

import ast
from pathlib import Path

import attnlab

PACKAGE_ROOT = Path(attnlab.__file__).parent

# What each subpackage may import (besides itself); the CLI sits on top and may import all.
BASE = {"errors", "safe_paths", "option_ranges"}  # one-file modules every layer may use: errors, path and range checks
ALLOWED = {
    "errors": set(),
    "safe_paths": {"errors"},
    "option_ranges": {"errors"},
    "stats": BASE,
    "modules": BASE,
    "datamodules": BASE,
    "training": BASE | {"modules", "datamodules"},
    "ablations": BASE | {"stats", "modules", "datamodules", "training"},
    "sweeps": BASE | {"stats", "modules", "datamodules", "training", "ablations"},
    "reports": BASE | {"stats", "modules", "datamodules", "training", "ablations", "sweeps"},
}


def _imported_attnlab_parts(path: Path) -> set[str]:
    """The top-level attnlab subpackages a file imports, with relative imports resolved."""
    module_parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    package = module_parts[:-1]
    parts = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] if base == "attnlab" else [base]
        else:
            continue
        parts.update(name.split(".")[1] for name in names if name.startswith("attnlab.") and name.count(".") >= 1)
    return parts


def _layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE_ROOT)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def test_no_module_outside_the_cli_imports_it() -> None:
    offenders = [
        str(path.relative_to(PACKAGE_ROOT))
        for path in PACKAGE_ROOT.rglob("*.py")
        if _layer_of(path) not in {"cli", "__main__"} and "cli" in _imported_attnlab_parts(path)
    ]
    assert offenders == []


def test_each_layer_imports_only_the_layers_beneath_it() -> None:
    violations = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        layer = _layer_of(path)
        if layer not in ALLOWED:
            continue
        for part in _imported_attnlab_parts(path) - ALLOWED[layer] - {layer}:
            violations.append(f"{path.relative_to(PACKAGE_ROOT)} imports attnlab.{part}")
    assert violations == []


def test_the_walk_sees_imports_into_the_cli() -> None:
    """The checker itself: an absolute and a relative import of the CLI are both seen."""
    probe = PACKAGE_ROOT / "sweeps" / "_import_probe_for_test.py"
    try:
        probe.write_text("from attnlab.cli.train import main\nfrom ..cli import main as other\n")
        assert _imported_attnlab_parts(probe) == {"cli"}
    finally:
        probe.unlink()


# The rooms of attnlab.sweeps, lowest first: each imports only itself and the rooms before it; the
# modules directly in sweeps/ (one per command: ablate, rounds, sweep, W&B sweep, status) sit above them all.
SWEEPS_ROOMS = ["store", "runs", "workers", "local", "cluster"]


def _imported_sweeps_rooms(path: Path) -> set[str]:
    """The rooms of attnlab.sweeps a file imports, or the top of sweeps/ ('' for ``attnlab.sweeps.ablation``)."""
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("attnlab.sweeps."):
            part = node.module.split(".")[2]
            rooms.add(part if part in SWEEPS_ROOMS else "")
    return rooms


def test_sweeps_rooms_import_only_the_rooms_beneath_them() -> None:
    sweeps = PACKAGE_ROOT / "sweeps"
    assert sorted(path.name for path in sweeps.iterdir() if path.is_dir() and path.name != "__pycache__") == sorted(
        SWEEPS_ROOMS
    )
    violations = []
    for position, room in enumerate(SWEEPS_ROOMS):
        allowed = set(SWEEPS_ROOMS[: position + 1])
        for path in sorted((sweeps / room).rglob("*.py")):
            for imported in _imported_sweeps_rooms(path) - allowed:
                violations.append(f"{path.relative_to(PACKAGE_ROOT)} imports sweeps.{imported or 'top level'}")
    assert violations == []
