"""The sweep file is read strictly: each mistake is one line naming the key; a valid one round-trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from attnlab.errors import ConfigError
from attnlab.sweeps.workers.sweep_file import EXAMPLE, SweepDefinition, load_sweep

VALID: dict[str, Any] = {
    "name": "cbam-lr",
    "base": {"model": {"attention": {"type": "cbam"}}},
    "space": {
        "model.optimizer.lr": {"type": "float", "low": 1.0e-3, "high": 0.5, "log": True},
        "model.attention.reduction": {"type": "categorical", "choices": [4, 8, 16]},
        "model.attention.kernel_size": {"type": "int", "low": 3, "high": 7, "step": 2},
    },
    "n_trials": 6,
    "sampler": {"name": "tpe", "seed": 3, "multivariate": True},
    "pruner": {"name": "median", "n_warmup_steps": 1},
}


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_valid_sweep_file_fills_defaults_and_round_trips(tmp_path: Path) -> None:
    sweep = load_sweep(_write(tmp_path, VALID))
    assert (sweep.profile, sweep.metric, sweep.direction, sweep.seed) == ("quick", "val/top1_err", "minimize", 0)
    assert sweep.base == {"model.attention.type": "cbam"}
    distributions = sweep.distributions()
    assert distributions["model.optimizer.lr"] == optuna.distributions.FloatDistribution(1e-3, 0.5, log=True)
    assert distributions["model.attention.kernel_size"] == optuna.distributions.IntDistribution(3, 7, step=2)
    assert SweepDefinition.from_dict(sweep.to_dict()) == sweep


def test_worker_slots_offset_a_given_sampler_seed() -> None:
    sweep = SweepDefinition.from_dict(VALID)
    draws = []
    for slot in (0, 0, 1):
        study = optuna.create_study(sampler=sweep.make_sampler(slot))
        draws.append(study.ask().suggest_float("x", 0, 1))
    assert draws[0] == draws[1] != draws[2]
    assert isinstance(sweep.make_pruner(), optuna.pruners.MedianPruner)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_trails": 3}, "'n_trails' is not a known key (did you mean 'n_trials'?)"),
        ({"n_trials": 0}, "n_trials: expected a whole number >= 1"),
        ({"metric": "test/top1_err"}, "a search never looks at the test split"),
        ({"direction": "maximize"}, "direction: val/top1_err is optimised by minimize"),
        ({"space": {}}, "space: a sweep needs at least one parameter"),
        ({"space": {"model.optimizer.lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}}, "space: model"),
        ({"space": {"model.optimizer.lr": {"type": "float", "low": 2.0, "high": 1.0}}}, "space: model.optimizer.lr"),
        ({"space": {"x.y": {"type": "uniform", "low": 0, "high": 1}}}, "expected {type: categorical|int|float"),
        ({"space": {"x.y": {"type": "int", "low": 0.5, "high": 3}}}, "low must be an integer"),
        ({"space": {"x.y": {"type": "categorical", "choices": []}}}, "choices must be a non-empty list"),
        ({"space": {"x.y": {"type": "categorical", "values": [1]}}}, "'values' is not a known key"),
        ({"space": {"seed_everything": {"type": "int", "low": 0, "high": 3}}}, "set seed: instead"),
        ({"sampler": {"name": "cmaes"}}, "sampler: name 'cmaes' is not valid; use one of tpe, random, gp, qmc"),
        ({"sampler": {"name": "tpe", "n_startup": 3}}, "sampler tpe: 'n_startup' is not a known key"),
        ({"pruner": {"name": "percentile", "percentile": 120.0}}, "pruner percentile:"),
        ({"name": "CBAM lr"}, "name: 'CBAM lr' is not a sweep name"),
    ],
)
def test_each_mistake_is_one_line_naming_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        SweepDefinition.from_dict({**VALID, **change})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_required_keys_and_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="n_trials: required"):
        SweepDefinition.from_dict({key: value for key, value in VALID.items() if key != "n_trials"})
    with pytest.raises(ConfigError, match=r"expected a \.yaml file"):
        load_sweep(tmp_path / "sweep.json")
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_sweep(tmp_path / "missing.yaml")
    repeated = tmp_path / "repeated.yaml"
    repeated.write_text("name: a\nname: b\nspace: {}\nn_trials: 1\n")
    with pytest.raises(ConfigError, match="'name' appears twice"):
        load_sweep(repeated)


def test_the_documented_example_is_a_valid_sweep() -> None:
    sweep = SweepDefinition.from_dict(yaml.safe_load(EXAMPLE))
    assert sweep.name == "cbam-lr" and len(sweep.space) == 3 and sweep.pruner == {"name": "median", "n_warmup_steps": 1}
