"""What one cell (row x seed) of a study stores in Optuna, so reports need nothing else.

The sweeps write a :class:`CellRecord` into a trial's user attributes; the reports read it back.
Keeping the schema in one place is what lets a table be rebuilt from any storage at any time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# Trial user-attribute keys (prefixed so they never collide with Optuna's own or a user's).
ATTR_PREFIX = "attnlab."
STUDY_DEFINITION_ATTR = "attnlab.study_definition"  # study-level: the StudyDefinition as a dict
STUDY_PROFILE_ATTR = "attnlab.profile"  # study-level: the profile name the study runs under
STEP_TIMING_ATTR = "attnlab.step_timing"  # study-level: {device label: StepTiming.to_dict()} of the rows' models
_OPTUNAS_OWN = {"state", "curve"}  # record fields that Optuna stores itself (trial state, intermediate values)


@dataclass
class CellRecord:
    """Everything one finished (or failed) cell contributes to a report."""

    study: str
    row: str
    seed: int
    axes: dict[str, Any] = field(default_factory=dict)  # axis (dotted config key) -> value
    config: dict[str, Any] = field(default_factory=dict)  # the full resolved train config
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. "test/top1_err": 21.3
    params: int | None = None
    macs: int | None = None  # multiply-accumulates of one forward pass at the data's image size
    train_images_per_s: float | None = None
    peak_memory_mb: float | None = None
    wall_time_s: float | None = None
    device: str | None = None  # what the cell trained on, e.g. "cuda: NVIDIA H200" (rank 0's device)
    threads: int | None = None  # torch's intra-op CPU threads in the training process
    state: str = "waiting"  # waiting | running | complete | failed | pruned
    failure_reason: str | None = None
    # Validation metric per epoch (the trial's intermediate values); like ``state``, Optuna's, not a user attribute.
    curve: dict[int, float] = field(default_factory=dict)

    @property
    def cell(self) -> str:
        """The cell's name: row and seed, as runs and trials are named."""
        return f"{self.row}/seed{self.seed}"

    def to_user_attrs(self) -> dict[str, Any]:
        """The record as Optuna trial user attributes (JSON values only); ``state`` is Optuna's."""
        fields = dataclasses.asdict(self).items()
        return {ATTR_PREFIX + key: value for key, value in fields if key not in _OPTUNAS_OWN}

    @classmethod
    def attr_keys(cls, without: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The user-attribute keys a record is stored under, but for the fields ``without``."""
        skipped = _OPTUNAS_OWN.union(without)
        return tuple(ATTR_PREFIX + f.name for f in dataclasses.fields(cls) if f.name not in skipped)

    @classmethod
    def from_user_attrs(cls, attrs: dict[str, Any], state: str) -> CellRecord:
        """Rebuild a record from a trial's user attributes and its state."""
        names = {f.name for f in dataclasses.fields(cls)} - _OPTUNAS_OWN
        values = {key[len(ATTR_PREFIX) :]: value for key, value in attrs.items() if key.startswith(ATTR_PREFIX)}
        return cls(state=state, **{key: value for key, value in values.items() if key in names})


@dataclass(frozen=True)
class StepTiming:
    """Median seconds per training step of each row's model, measured side by side on one device.

    Stored with the study (``STEP_TIMING_ATTR``, one per device kind); the report's time column is its ratios.
    """

    device: str  # e.g. "cuda: NVIDIA H200", "cpu: Intel(R) Xeon(R) Processor"
    threads: int  # torch's intra-op threads during the measurement
    batch_size: int
    input_shape: tuple[int, int, int]  # C, H, W
    rounds: int
    seconds: dict[str, float]  # row -> median seconds per step

    def ratio(self, row: str, baseline: str) -> float | None:
        """Step time of ``row`` over that of ``baseline`` (> 1: slower); None if either was not measured."""
        if row not in self.seconds or baseline not in self.seconds:
            return None
        return self.seconds[row] / self.seconds[baseline]

    def describe(self) -> str:
        """How the times were taken, in one sentence."""
        channels, height, width = self.input_shape
        threads = f", {self.threads} thread{'s' if self.threads != 1 else ''}" if self.device.startswith("cpu") else ""
        return (
            f"forward + backward + optimiser step of each row's model on a batch of {self.batch_size}×{channels}×"
            f"{height}×{width}, rows interleaved in one process on {self.device}{threads}, "
            f"median of {self.rounds} rounds"
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepTiming:
        return cls(**{**data, "input_shape": tuple(data["input_shape"])})
