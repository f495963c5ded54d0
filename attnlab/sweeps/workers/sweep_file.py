"""The sweep file (YAML) of ``attnlab sweep``, read strictly: every mistake is one line naming the key at fault.

:data:`EXAMPLE` shows every key. A sampler ``seed`` makes a one-worker sweep repeatable; each
further worker adds its slot to it, so parallel workers do not propose the same points.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from attnlab.ablations import DEFAULT_PROFILE, METRIC_DIRECTIONS
from attnlab.ablations.overrides import SEED_KEY, check_key, flatten_overrides

# The study files' strict reading: a repeated key is an error, an unknown key names the closest valid one.
from attnlab.ablations.yaml_input import check_known_keys, read_yaml_mapping
from attnlab.errors import ConfigError
from attnlab.safe_paths import check_path_name
from attnlab.sweeps.store.experimental import experimental_allowed

EXAMPLE = """\
name: cbam-lr                       # required; lower-case, digits, - _ . (names the Optuna study)
profile: quick                      # optional (this default): the train config trials run under
base:                               # optional: overrides on the profile for every trial
  model.attention.type: cbam
space:                              # required: dotted config key -> distribution
  model.optimizer.lr: {type: float, low: 1.0e-3, high: 0.5, log: true}
  model.attention.reduction: {type: categorical, choices: [4, 8, 16]}
  model.attention.kernel_size: {type: int, low: 3, high: 7, step: 2}
n_trials: 20                        # required: trials in all, over every worker and machine
metric: val/top1_err                # optional (this default): what to optimise; never a test metric
direction: minimize                 # optional: the metric's own direction, checked if given
seed: 0                             # optional (this default): seed_everything of every trial
sampler: {name: tpe, multivariate: true}        # optional (tpe): tpe | random | gp | qmc, with options
pruner: {name: median, n_warmup_steps: 1}       # optional (median): median | percentile | hyperband |
                                                #   successive_halving | threshold | none, with options
"""
SWEEP_KEYS: tuple[str, ...] = (
    "name",
    "profile",
    "base",
    "space",
    "n_trials",
    "metric",
    "direction",
    "seed",
    "sampler",
    "pruner",
)
REQUIRED_KEYS: tuple[str, ...] = ("name", "space", "n_trials")
DEFAULT_METRIC = "val/top1_err"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_BOUNDS = ("low", "high", "step", "log")
PARAMETER_KEYS: dict[str, tuple[str, ...]] = {"categorical": ("choices",), "int": _BOUNDS, "float": _BOUNDS}
# name -> (class, the options a sweep file may set: plain values, no callables)
SAMPLERS: dict[str, tuple[type, tuple[str, ...]]] = {
    "tpe": (
        optuna.samplers.TPESampler,
        ("seed", "n_startup_trials", "n_ei_candidates", "multivariate", "group", "constant_liar", "prior_weight"),
    ),
    "random": (optuna.samplers.RandomSampler, ("seed",)),
    "gp": (optuna.samplers.GPSampler, ("seed", "n_startup_trials", "deterministic_objective")),
    "qmc": (optuna.samplers.QMCSampler, ("seed", "qmc_type", "scramble")),
}
_WARMUP = ("n_startup_trials", "n_warmup_steps", "interval_steps", "n_min_trials")
PRUNERS: dict[str, tuple[type, tuple[str, ...]]] = {
    "median": (optuna.pruners.MedianPruner, _WARMUP),
    "percentile": (optuna.pruners.PercentilePruner, ("percentile", *_WARMUP)),
    "hyperband": (
        optuna.pruners.HyperbandPruner,
        ("min_resource", "max_resource", "reduction_factor", "bootstrap_count"),
    ),
    "successive_halving": (
        optuna.pruners.SuccessiveHalvingPruner,
        ("min_resource", "reduction_factor", "min_early_stopping_rate", "bootstrap_count"),
    ),
    "threshold": (optuna.pruners.ThresholdPruner, ("lower", "upper", "n_warmup_steps", "interval_steps")),
    "none": (optuna.pruners.NopPruner, ()),
}


def _component(where: str, spec: Any, table: dict[str, tuple[type, tuple[str, ...]]], default: str) -> dict:
    """``"tpe"`` or ``{name: tpe, seed: 0}`` -> ``{"name": "tpe", "seed": 0}``, checked by building it."""
    spec = {"name": spec} if isinstance(spec, str) else ({"name": default} if spec is None else spec)
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a name or a mapping such as {{name: {default}}}, got {spec!r}")
    spec = dict(spec)
    name = spec.get("name", default)
    if name not in table:
        raise ConfigError(f"{where}: name {name!r} is not valid; use one of {', '.join(table)}")
    check_known_keys(f"{where} {name}: ", {key: 0 for key in spec if key != "name"}, table[name][1])
    try:
        build(spec, table)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where} {name}: {str(error).splitlines()[0]}") from None
    return {"name": name, **{key: value for key, value in spec.items() if key != "name"}}


def build(spec: Mapping[str, Any], table: dict[str, tuple[type, tuple[str, ...]]], **extra: Any) -> Any:
    """The sampler or pruner ``spec`` names (``extra`` options win)."""
    cls, _ = table[spec["name"]]
    options = {key: value for key, value in spec.items() if key != "name"} | extra
    with experimental_allowed():
        return cls(**options)


def _distribution(key: str, spec: Any) -> BaseDistribution:
    where = f"space: {key}"
    if not isinstance(spec, Mapping) or spec.get("type") not in PARAMETER_KEYS:
        raise ConfigError(
            f"{where}: expected {{type: categorical|int|float, ...}}, e.g. {{type: float, low: 1.0e-3, high: 0.1, "
            f"log: true}}, got {spec!r}"
        )
    kind = spec["type"]
    options = {name: value for name, value in spec.items() if name != "type"}
    check_known_keys(f"{where}: ", options, PARAMETER_KEYS[kind])
    if kind == "categorical":
        choices = options.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices must be a non-empty list, e.g. [4, 8, 16], got {choices!r}")
        if any(not (choice is None or isinstance(choice, bool | int | float | str)) for choice in choices):
            raise ConfigError(f"{where}: choices must be numbers, strings, booleans or null, got {choices!r}")
        return CategoricalDistribution(choices)
    number = int if kind == "int" else (int, float)
    for bound in ("low", "high"):
        value = options.get(bound)
        if isinstance(value, bool) or not isinstance(value, number):
            raise ConfigError(f"{where}: {bound} must be a{'n integer' if kind == 'int' else ' number'}, got {value!r}")
    try:
        if kind == "int":
            return IntDistribution(
                options["low"], options["high"], log=options.get("log", False), step=options.get("step", 1)
            )
        return FloatDistribution(
            options["low"], options["high"], log=options.get("log", False), step=options.get("step")
        )
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {str(error).splitlines()[0]}") from None


@dataclass(frozen=True)
class SweepDefinition:
    """A validated sweep: construct it through :func:`load_sweep` or :meth:`from_dict`."""

    name: str
    space: dict[str, dict[str, Any]]  # dotted key -> its distribution as written (type, choices / low, high, ...)
    n_trials: int
    profile: str = DEFAULT_PROFILE
    base: dict[str, Any] = field(default_factory=dict)
    metric: str = DEFAULT_METRIC
    direction: str = ""
    seed: int = 0
    sampler: dict[str, Any] = field(default_factory=lambda: {"name": "tpe"})
    pruner: dict[str, Any] = field(default_factory=lambda: {"name": "median"})

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigError(f"name: {self.name!r} is not a sweep name; use lower-case letters, digits, '-', '_'")
        check_path_name("name", self.name)  # it names the sweep's run folders
        if not isinstance(self.profile, str) or not self.profile:
            raise ConfigError(f"profile: expected a profile name or a .yaml path, got {self.profile!r}")
        object.__setattr__(self, "base", flatten_overrides(self.base, "base"))
        if not isinstance(self.space, Mapping) or not self.space:
            raise ConfigError("space: a sweep needs at least one parameter, e.g. model.optimizer.lr")
        for key, spec in self.space.items():
            check_key(key, "space")
            if key == SEED_KEY:
                raise ConfigError(f"space: {SEED_KEY} is the sweep's seed; set seed: instead")
            _distribution(key, spec)
        object.__setattr__(self, "space", {key: dict(spec) for key, spec in self.space.items()})
        if isinstance(self.n_trials, bool) or not isinstance(self.n_trials, int) or self.n_trials < 1:
            raise ConfigError(f"n_trials: expected a whole number >= 1, got {self.n_trials!r}")
        self._check_metric()
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed: expected a whole number >= 0, got {self.seed!r}")
        object.__setattr__(self, "sampler", _component("sampler", self.sampler, SAMPLERS, "tpe"))
        object.__setattr__(self, "pruner", _component("pruner", self.pruner, PRUNERS, "median"))

    def _check_metric(self) -> None:
        valid = [metric for metric in METRIC_DIRECTIONS if not metric.startswith("test/")]
        if self.metric not in valid:
            hint = " (a search never looks at the test split)" if str(self.metric).startswith("test/") else ""
            raise ConfigError(f"metric: {self.metric!r} is not valid{hint}; use one of {', '.join(valid)}")
        natural = METRIC_DIRECTIONS[self.metric]
        if self.direction not in ("", natural):
            raise ConfigError(f"direction: {self.metric} is optimised by {natural}, not {self.direction!r}")
        object.__setattr__(self, "direction", natural)

    def distributions(self) -> dict[str, BaseDistribution]:
        """The search space as Optuna distributions."""
        return {key: _distribution(key, spec) for key, spec in self.space.items()}

    def make_sampler(self, slot: int = 0) -> optuna.samplers.BaseSampler:
        """This worker's sampler: a given seed is offset by the worker's slot."""
        seed = self.sampler.get("seed")
        return build(self.sampler, SAMPLERS, **({} if seed is None else {"seed": seed + slot}))

    def make_pruner(self) -> optuna.pruners.BasePruner:
        return build(self.pruner, PRUNERS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (stored in the Optuna study); :meth:`from_dict` gives it back."""
        return {
            "name": self.name,
            "profile": self.profile,
            "base": dict(self.base),
            "space": {key: dict(spec) for key, spec in self.space.items()},
            "n_trials": self.n_trials,
            "metric": self.metric,
            "direction": self.direction,
            "seed": self.seed,
            "sampler": dict(self.sampler),
            "pruner": dict(self.pruner),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepDefinition:
        check_known_keys("", data, SWEEP_KEYS)
        missing = [key for key in REQUIRED_KEYS if key not in data]
        if missing:
            raise ConfigError(f"{missing[0]}: required; a sweep file needs {', '.join(REQUIRED_KEYS)}")
        return cls(**data)


def _probes(spec: Mapping[str, Any]) -> list[Any]:
    """The values of a parameter worth checking against the config: every choice, or both bounds."""
    return list(spec["choices"]) if spec["type"] == "categorical" else [spec["low"], spec["high"]]


def validate_sweep(sweep: SweepDefinition) -> None:
    """Checks the base and every choice and bound of the space against the profile's train config, computing nothing."""
    from attnlab.ablations import profile_path
    from attnlab.training import overrides_to_args, validate_train_args

    config = ["--config", str(profile_path(sweep.profile))]
    seed = {SEED_KEY: sweep.seed}
    try:
        validate_train_args(config + overrides_to_args(sweep.base | seed))
    except ConfigError as error:
        raise ConfigError(f"base: {error}") from None
    for key, spec in sweep.space.items():
        for value in _probes(spec):
            try:
                validate_train_args(config + overrides_to_args(sweep.base | {key: value} | seed))
            except ConfigError as error:
                raise ConfigError(f"space: {key}={value!r}: {error}") from None


def load_sweep(path: str | Path) -> SweepDefinition:
    """Reads and validates a sweep file (its keys are checked against the profile by ``validate_sweep``)."""
    path = Path(path)
    if path.suffix not in (".yaml", ".yml"):
        raise ConfigError(f"sweep file {str(path)!r}: expected a .yaml file")
    expected = "expected a mapping of keys (name, space, n_trials, ...)"
    return SweepDefinition.from_dict(read_yaml_mapping(path, f"sweep file {str(path)!r}", expected))
