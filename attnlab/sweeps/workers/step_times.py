"""The study's time column: every row's training step timed side by side, once per study and device kind.

A launcher's first worker takes the measurement after its first cell (or when none is left for it, so no cell
waits for it) when the study has none for its device kind, and stores it in the study (``attnlab.step_timing``:
device label -> timing), where reports read it. Timing a few steps of every row costs seconds; a failure to
build a row's model is that row's cells' business, so it only leaves the study without a time column.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attnlab.ablations import Cell
from attnlab.errors import ConfigError
from attnlab.sweeps.runs.trial_runs import device_overrides, train_args
from attnlab.sweeps.store.records import STEP_TIMING_ATTR, StepTiming
from attnlab.sweeps.workers.worker_spec import WorkerContext

if TYPE_CHECKING:
    import torch

_logger = logging.getLogger(__name__)
GPU_ACCELERATORS = ("auto", "gpu", "cuda")


def timing_device(config: Mapping[str, Any]) -> torch.device:
    """The device a cell of this resolved config trains on: the worker's first GPU, else the CPU."""
    import torch

    accelerator = str(config.get("trainer", {}).get("accelerator", "auto"))
    on_gpu = accelerator in GPU_ACCELERATORS and torch.cuda.is_available()
    return torch.device("cuda", 0) if on_gpu else torch.device("cpu")


def rows_args(profile_file: str, cells: Sequence[Cell]) -> dict[str, list[str]]:
    """Each row's train arguments, from its first cell (the seed does not change the model's cost)."""
    args: dict[str, list[str]] = {}
    for cell in cells:
        args.setdefault(cell.row, train_args(profile_file, cell.overrides | device_overrides(1)))
    return args


def ensure_step_timing(context: WorkerContext, cells: Sequence[Cell]) -> None:
    """Times every row on this worker's device kind unless the study already holds that measurement.

    Only a launcher's first worker measures: its others run on the same kind of device.
    """
    import torch

    if context.spec.slot != 0:
        return
    from attnlab.training import validate_train_args
    from attnlab.training.devices import device_label
    from attnlab.training.step_timing import ROUNDS, input_shape, models_for_timing, time_steps

    args = rows_args(context.profile_file, cells)
    try:
        device = timing_device(validate_train_args(next(iter(args.values()))))
        if device_label(device) in context.study.user_attrs.get(STEP_TIMING_ATTR, {}):
            return
        _logger.info("timing a training step of %d rows on %s", len(args), device_label(device))
        models, batch_size = models_for_timing(args)
    except ConfigError as error:
        _logger.warning("no step timing for this study: %s", error)
        return
    timing = StepTiming(
        device=device_label(device),
        threads=torch.get_num_threads(),
        batch_size=batch_size,
        input_shape=input_shape(next(iter(models.values()))),
        rounds=ROUNDS,
        seconds=time_steps(models, batch_size, device, rounds=ROUNDS),
    )
    latest = dict(context.study.user_attrs.get(STEP_TIMING_ATTR, {}))  # another device kind may have written
    context.storage.set_study_user_attr(context.study_id, STEP_TIMING_ATTR, latest | {timing.device: timing.to_dict()})
