"""Dotted config overrides: parsing ``--set KEY=VALUE``, flattening nested patches and layering them.

Every layer of a cell's configuration (study base, row patch, ``--set``, the seed) is a flat
mapping from dotted keys (``model.attention.reduction``) to values. Keeping the layers flat makes
"a later layer wins" a per-field rule, and keeps the argument order that jsonargparse applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from attnlab.ablations.yaml_input import YamlLoader
from attnlab.errors import ConfigError

_DOTTED_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
SEED_KEY = "seed_everything"


def check_key(key: Any, where: str) -> str:
    """A dotted config key, or a one-line error naming ``where`` it was found."""
    if not isinstance(key, str) or not _DOTTED_KEY.fullmatch(key):
        raise ConfigError(f"{where}: {key!r} is not a config key; write dotted names such as model.attention.reduction")
    return key


def flatten_overrides(patch: Any, where: str) -> dict[str, Any]:
    """``{"model": {"attention": {"type": "se"}}}`` and ``{"model.attention.type": "se"}`` both give the latter.

    Nested mappings are descended into; any other value (list, scalar, null) is a leaf. A field
    given twice (once nested, once dotted) is an error rather than a silent pick.
    """
    if patch is None:
        return {}
    if not isinstance(patch, Mapping):
        raise ConfigError(f"{where}: expected a mapping of config keys to values, got {type(patch).__name__}")
    flat: dict[str, Any] = {}
    for key, value in patch.items():
        dotted = check_key(key, where)
        if isinstance(value, Mapping) and value:
            leaves = {f"{dotted}.{leaf}": v for leaf, v in flatten_overrides(value, f"{where}: {dotted}").items()}
        else:
            leaves = {dotted: value}
        for leaf, leaf_value in leaves.items():
            if leaf in flat:
                raise ConfigError(f"{where}: {leaf} is set twice (nested and dotted); keep one")
            flat[leaf] = leaf_value
    return flat


def format_value(value: Any) -> str:
    """How a config value reads in a row name or a listing: ``4``, ``avg``, ``[avg, max]``, ``true``."""
    if isinstance(value, list):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return str(value)


def layer_overrides(layers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Later layers win per field; a key moves to the position of the layer that last set it.

    A later value at ``a.b`` also replaces everything an earlier layer set under ``a.b.``, since
    the later layer assigns the whole sub-tree.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            for earlier in [k for k in merged if k == key or k.startswith(f"{key}.")]:
                del merged[earlier]
            merged[key] = value
    return merged


def parse_set_options(items: Iterable[str]) -> dict[str, Any]:
    """``["a.b=3", "c=[1,2]"]`` -> ``{"a.b": 3, "c": [1, 2]}``: values are read as YAML, as Lightning does."""
    parsed: dict[str, Any] = {}
    for item in items:
        key, equals, text = item.partition("=")
        if not equals:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set data.batch_size=256")
        key = check_key(key.strip(), f"--set {item!r}")
        if key in parsed:
            raise ConfigError(f"--set {key}: given twice; keep one")
        try:
            parsed[key] = yaml.load(text, Loader=YamlLoader)  # a SafeLoader subclass: safe
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ConfigError(f"--set {key}: {text!r} is not a YAML value ({problem})") from None
    return parsed
