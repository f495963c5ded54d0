"""The built-in studies and profiles shipped with the package, and lookup by name or path.

A profile is a complete ``attnlab train`` config (LightningCLI YAML) that a study runs under;
its first comment line says what it is for, which ``attnlab studies`` shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attnlab.ablations.definition import StudyDefinition
from attnlab.ablations.study_file import read_study_file
from attnlab.ablations.yaml_input import read_yaml_mapping
from attnlab.errors import ConfigError

_PACKAGE_DIR = Path(__file__).parent
BUILTIN_DIR = _PACKAGE_DIR / "builtin"
PROFILES_DIR = _PACKAGE_DIR / "profiles"
DEFAULT_PROFILE = "quick"


def _yaml_files(folder: Path) -> dict[str, Path]:
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def builtin_studies() -> dict[str, Path]:
    """Built-in study name -> its YAML file."""
    return _yaml_files(BUILTIN_DIR)


def builtin_profiles() -> dict[str, Path]:
    """Built-in profile name -> its train-config YAML file."""
    return _yaml_files(PROFILES_DIR)


def _resolve(kind: str, name_or_path: str | Path, builtins: dict[str, Path]) -> Path:
    """A built-in's file by name, or a user's own YAML file by path."""
    if str(name_or_path) in builtins:
        return builtins[str(name_or_path)]
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"{kind}: {str(path)!r} does not exist")
        return path
    raise ConfigError(f"{kind}: {str(name_or_path)!r} is neither a built-in ({', '.join(builtins)}) nor a .yaml file")


def profile_path(name: str | Path) -> Path:
    """The train config of a built-in profile (``quick``, ``cifar100``, ``imagenet``) or of a YAML path.

    A profile file is read once here with the study files' bounds (size, aliases, depth), so jsonargparse
    never gets an oversized or hostile file; errors name the file, never its content.
    """
    path = _resolve("profile", name, builtin_profiles())
    read_profile(path)
    return path


def read_profile(path: Path) -> dict[str, Any]:
    """The profile's YAML document (a mapping of config sections), read with bounds."""
    expected = "is not a train config; expected a mapping of trainer/model/data sections"
    return read_yaml_mapping(path, f"profile: {path}", expected)


def profile_description(path: Path) -> str:
    """The profile's first comment line: what it trains, on what data, for how long."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def load_study(name_or_path: str | Path) -> StudyDefinition:
    """A built-in study by name, or a study YAML file by path; the file is validated on the way in."""
    return read_study_file(_resolve("study", name_or_path, builtin_studies()))
