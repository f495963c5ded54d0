"""``model.compile``: what gets compiled, and compile time kept out of the throughput the cost monitor logs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from attnlab.errors import ConfigError
from attnlab.modules import Attention, AttentionDesign, cost_monitor
from attnlab.modules.backbones import BackboneConfig
from attnlab.modules.classifier import AttentionClassifier
from attnlab.modules.cost_monitor import DesignCostMonitor


def _classifier(compile: str) -> AttentionClassifier:
    return AttentionClassifier(
        backbone=BackboneConfig(name="resnet18", stem="cifar", width=0.25),
        attention=AttentionDesign(type="cbam"),
        compile=compile,
    )


def _compiled(module: torch.nn.Module) -> bool:
    return module._compiled_call_impl is not None


@pytest.mark.parametrize("target", ["none", "attention", "model"])
def test_compile_reaches_the_attention_modules_or_the_whole_net(target: str) -> None:
    net = _classifier(target).net
    attention = [module for module in net.modules() if isinstance(module, Attention)]
    assert len(attention) == 8
    assert [_compiled(module) for module in attention] == [target == "attention"] * 8
    assert _compiled(net) == (target == "model")
    assert not any(_compiled(module) for module in net.modules() if module is not net and module not in attention)


def test_unknown_compile_target_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^model\.compile: 'yes' is not valid; use one of none, attention, model$"):
        _classifier("yes")


class _Clocks:
    """A wall clock and a compile clock the test moves by hand."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.compiling = 0.0

    def perf_counter(self) -> float:
        return self.wall


@pytest.mark.parametrize("first_batch_compiles", [True, False])
def test_compiling_batches_are_timed_apart_from_the_throughput(
    first_batch_compiles: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    clocks = _Clocks()
    monkeypatch.setattr(cost_monitor, "time", clocks)
    monkeypatch.setattr(cost_monitor, "dynamo_seconds", lambda: clocks.compiling)
    logged: dict[str, float] = {}
    trainer = SimpleNamespace(world_size=1)
    module = SimpleNamespace(device=torch.device("cpu"), log_dict=lambda values, **_: logged.update(values))
    monitor = DesignCostMonitor()
    batch = (torch.zeros(8, 3), torch.zeros(8))

    monitor.on_validation_batch_start(trainer, module, batch, 0)  # the sanity check compiles the eval graph: 4 s
    clocks.wall, clocks.compiling = 4.0, 3.5
    monitor.on_validation_batch_end(trainer, module, None, batch, 0)
    monitor.on_train_epoch_start(trainer, module)
    for seconds in (10.0 if first_batch_compiles else 1.0, 1.0, 1.0):
        monitor.on_train_batch_start(trainer, module, batch, 0)
        clocks.wall += seconds
        clocks.compiling += 9.0 if seconds == 10.0 else 0.0
        monitor.on_train_batch_end(trainer, module, None, batch, 0)
    monitor.on_train_epoch_end(trainer, module)

    assert logged["cost/compile_s"] == (14.0 if first_batch_compiles else 4.0)
    assert logged["cost/train_images_per_s"] == (16 / 2.0 if first_batch_compiles else 24 / 3.0)
