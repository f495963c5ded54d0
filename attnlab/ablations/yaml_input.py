"""Reading user YAML strictly: one-line errors, no silently dropped keys, ``1e-3`` read as a number.

Study files, sweep files and ``--set`` values all go through here, so they agree on what a value
means and fail the same way.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from attnlab.errors import ConfigError


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading ``1e-3`` as a float (YAML 1.2, as jsonargparse does), not as text."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


class StrictYamlLoader(YamlLoader):
    """Also refuses a key given twice in one mapping, where PyYAML would keep the last (and lose a row)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: {key!r} appears twice in one mapping")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """The document in ``path``, or a one-line ``ConfigError`` (unreadable file, syntax error with its line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read the file ({error.strerror})") from None
    try:
        return yaml.load(text, Loader=StrictYamlLoader)  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{where}YAML syntax error: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"YAML syntax error: {str(error).splitlines()[0]}") from None


def check_known_keys(where: str, keys: Iterable[Any], valid: tuple[str, ...]) -> None:
    """A one-line error for the first key not in ``valid``, suggesting the closest valid one."""
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}{key!r} is not a known key{hint}; valid keys: {', '.join(valid)}")
