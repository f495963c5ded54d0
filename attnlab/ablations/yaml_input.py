"""Reading user YAML strictly: one-line errors, no silently dropped keys, ``1e-3`` read as a number.

Study files, sweep files and ``--set`` values all go through here, so they agree on what a value
means and fail the same way.
"""

from __future__ import annotations

import difflib
import re
import stat
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


class BoundedYamlLoader(StrictYamlLoader):
    """Also bounds the work a document can ask for: nesting depth, and the size it would have with every
    alias written out (a "billion laughs" bomb is refused while composing, in bounded memory, before
    anything walks its exponential expansion)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._expanded: dict[int, int] = {}  # id(node) -> nodes it stands for, aliases written out

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ConfigError(f"nests deeper than {MAX_DEPTH} levels; a study or sweep file needs a few")
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None and id(node) not in self._expanded:
            self._expanded[id(node)] = 1 + sum(self._expanded.get(id(child), 1) for child in _children(node))
        if node is not None and self._expanded[id(node)] > MAX_EXPANDED_NODES:
            raise ConfigError(
                f"expands to over {MAX_EXPANDED_NODES} values through YAML aliases (*name); write the values out"
            )
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


MAX_FILE_BYTES = 1_000_000  # a study or sweep file is a few kB; refuse more before reading it
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 32


def read_bounded_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """The file's text, refused in one line if it is not a regular file or is over ``limit`` bytes:
    stat first, then read at most ``limit`` + 1 bytes (a file that grows meanwhile is still caught)."""
    try:
        status = path.stat()  # follows a symlink: the file it leads to is what is read
        if not stat.S_ISREG(status.st_mode):
            raise ConfigError("is not a regular file; expected a YAML file")
        if status.st_size > limit:
            raise ConfigError(f"is {status.st_size} bytes, over the {limit}-byte limit for a YAML file")
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except OSError as error:
        raise ConfigError(f"cannot read the file ({error.strerror})") from None
    if len(data) > limit:
        raise ConfigError(f"is over the {limit}-byte limit for a YAML file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text; expected a YAML file") from None


def read_yaml(path: Path) -> Any:
    """The document in ``path``, or a one-line ``ConfigError`` (unreadable or oversized file, alias bomb,
    too deep, syntax error with its line); the message never quotes the file's content."""
    text = read_bounded_text(path)
    try:
        return yaml.load(text, Loader=BoundedYamlLoader)  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{where}YAML syntax error: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"YAML syntax error: {str(error).splitlines()[0]}") from None


def read_yaml_mapping(path: Path, where: str, expected: str) -> dict[Any, Any]:
    """``read_yaml`` for a file that must hold a mapping: every error one line starting with ``where``."""
    try:
        document = read_yaml(path)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{where}: {expected}")
    return document


def check_known_keys(where: str, keys: Iterable[Any], valid: tuple[str, ...]) -> None:
    """A one-line error for the first key not in ``valid``, suggesting the closest valid one."""
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}{key!r} is not a known key{hint}; valid keys: {', '.join(valid)}")
