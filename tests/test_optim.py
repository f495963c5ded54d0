"""The learning-rate schedule's multiplier, checked against the closed-form curves."""

import math

import pytest

from attnlab.errors import ConfigError
from attnlab.modules.optim import OptimizerConfig, SchedulerConfig


def test_step_schedule_divides_by_ten_every_step_size_epochs() -> None:
    factor = SchedulerConfig(name="step", step_size=30, gamma=0.1).multiplier(steps_per_epoch=10, total_epochs=90)
    assert factor(0) == 1.0
    assert factor(299) == 1.0
    assert factor(300) == pytest.approx(0.1)
    assert factor(600) == pytest.approx(0.01)


def test_cosine_with_linear_warmup() -> None:
    factor = SchedulerConfig(name="cosine", warmup_epochs=1).multiplier(steps_per_epoch=4, total_epochs=5)
    assert [factor(step) for step in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    # Halfway through the post-warm-up epochs (epoch 3 of 1..5), cosine is at 0.5.
    assert factor(12) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert factor(20) == pytest.approx(0.0, abs=1e-12)


def test_multistep_counts_milestones_passed() -> None:
    factor = SchedulerConfig(name="multistep", milestones=(2, 4), gamma=0.5).multiplier(1, 6)
    assert [factor(epoch) for epoch in range(6)] == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: OptimizerConfig(lr=0), "model.optimizer.lr"),
        (lambda: OptimizerConfig(name="adamw", nesterov=True), "model.optimizer.nesterov"),
        (lambda: OptimizerConfig(name="rmsprop"), "model.optimizer.name"),  # type: ignore[arg-type]
        (lambda: SchedulerConfig(name="multistep"), "model.scheduler.milestones"),
        (lambda: SchedulerConfig(gamma=2.0), "model.scheduler.gamma"),
    ],
)
def test_bad_optimisation_settings_name_their_field(build, field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}: ") as error:
        build()
    assert "\n" not in str(error.value)
