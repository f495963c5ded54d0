"""Names that become paths (study, row, report label): checked so that none can leave its folder.

One helper for every place a user-given name is joined onto a folder, so ``../x``, an absolute
path, ``..`` or a name with a path separator is refused in one line before anything is written.
"""

from __future__ import annotations

from pathlib import Path

from attnlab.errors import ConfigError

MAX_NAME_LENGTH = 100  # well under the 255 bytes a file name may have, with room for suffixes
_SEPARATORS = ("/", "\\", "\0")


def check_path_name(field: str, name: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """``name`` if it can be one file or folder name; else a one-line error naming ``field``."""
    valid = f"use a plain name of 1-{max_length} characters without '/', '\\' or '..'"
    if not isinstance(name, str) or not name or name in (".", ".."):
        raise ConfigError(f"{field}: {name!r} is not a name; {valid}")
    if len(name) > max_length:
        raise ConfigError(f"{field}: a name of {len(name)} characters is too long; {valid}")
    if any(separator in name for separator in _SEPARATORS):
        raise ConfigError(f"{field}: {name[:60]!r} contains a path separator; {valid}")
    return name


def path_inside(folder: Path, name: str, field: str) -> Path:
    """``folder / name``, refused in one line if ``name`` is not a plain name or the result would leave
    ``folder`` (a symlink inside it pointing out counts as leaving)."""
    check_path_name(field, name)
    path = folder / name
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ConfigError(f"{field}: {name!r} would leave {folder}; use a plain name")
    return path
