"""One training run in this process: fit, test, and what it produced (metrics and measured cost)."""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import Logger, WandbLogger

from attnlab.errors import ConfigError
from attnlab.modules.classifier import AttentionClassifier
from attnlab.modules.cost_monitor import DesignCostMonitor
from attnlab.modules.design import PRESETS
from attnlab.training.config import AttnlabCLI, build_cli, resolved_config
from attnlab.training.devices import device_label
from attnlab.training.threads import fit_threads


@dataclass
class TrainResult:
    """What one training run produced: final metrics (errors in %) and the design's measured cost."""

    metrics: dict[str, float]
    params: int | None
    macs: int | None
    train_images_per_s: float | None
    peak_memory_mb: float | None
    wall_time_s: float
    log_dir: str | None
    best_checkpoint: str | None
    config: dict[str, Any] = field(default_factory=dict)
    device: str | None = None  # device_label() of rank 0's device
    threads: int | None = None  # torch's intra-op CPU threads


def _design_labels(model: AttentionClassifier) -> tuple[str, list[str]]:
    """A W&B group (backbone + preset) and tags (each attention field that departs from its preset)."""
    preset = PRESETS[model.attention.type]
    departures = [
        f"{name}={value}"
        for name, value in model.attention.to_dict().items()
        if name != "type" and value != (list(preset[name]) if isinstance(preset[name], tuple) else preset[name])
    ]
    return f"{model.backbone.name}+{model.attention.type}", [model.backbone.name, model.attention.type, *departures]


def _label_wandb_runs(loggers: Sequence[Logger], model: AttentionClassifier) -> None:
    """Groups and tags W&B runs by design unless the user set them (before the run is created)."""
    group, tags = _design_labels(model)
    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is None:
            logger._wandb_init.setdefault("group", group)
            logger._wandb_init.setdefault("tags", tags)


def check_checkpoint_file(path: Path) -> None:
    """A missing or damaged checkpoint is a one-line error before the run starts, not a traceback from inside fit.

    Checkpoints are PyTorch zip archives: every member's CRC is checked, so a truncated or overwritten file
    is caught without unpickling anything.
    """
    valid = "valid: a .ckpt file written by attnlab train (Lightning), or 'last'"
    if not path.is_file():
        raise ConfigError(f"ckpt_path: {path}: no such file; {valid}")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
            has_data = any(name.endswith("/data.pkl") or name == "data.pkl" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ConfigError(f"ckpt_path: {path} is not a readable checkpoint ({error}); {valid}") from None
    if damaged is not None:
        raise ConfigError(f"ckpt_path: {path} is damaged (member {damaged} fails its checksum); {valid}")
    if not has_data:
        raise ConfigError(f"ckpt_path: {path} is a zip file but not a PyTorch checkpoint; {valid}")


def _resolve_checkpoint(ckpt_path: str | None, trainer: L.Trainer) -> str | None:
    """'last' means the newest ``last.ckpt`` under the log root (a new run gets a new version dir)."""
    if ckpt_path is None or "://" in ckpt_path:  # remote checkpoints are Lightning's to fetch
        return ckpt_path
    if ckpt_path != "last":
        check_checkpoint_file(Path(ckpt_path))
        return ckpt_path
    root = Path(trainer.logger.save_dir if trainer.logger and trainer.logger.save_dir else trainer.default_root_dir)
    candidates = sorted(root.glob("**/last*.ckpt"), key=lambda path: path.stat().st_mtime)
    if not candidates:
        raise ConfigError(f"ckpt_path: 'last' found no last.ckpt under {root}; train once first or give a path")
    return str(candidates[-1])


def _as_floats(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {key: float(value) for key, value in metrics.items()}


def fit_and_test(cli: AttnlabCLI) -> TrainResult:
    trainer, model, datamodule = cli.trainer, cli.model, cli.datamodule
    fit_threads()  # only the CPUs that are this run's and free: a busy neighbour would stall every step
    _label_wandb_runs(trainer.loggers, model)
    started = time.perf_counter()
    ckpt_path = _resolve_checkpoint(cli.config.ckpt_path, trainer)
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = _as_floats(trainer.callback_metrics)
    checkpoint = trainer.checkpoint_callback if isinstance(trainer.checkpoint_callback, ModelCheckpoint) else None
    best = checkpoint.best_model_path if checkpoint and checkpoint.best_model_path else None
    if checkpoint is not None and checkpoint.best_model_score is not None:
        metrics[f"best/{model.monitor}"] = float(checkpoint.best_model_score)
    # Taken before testing: trainer.test installs fresh callbacks from configure_callbacks().
    cost = next(callback for callback in trainer.callbacks if isinstance(callback, DesignCostMonitor))
    if cli.config.run_test:
        tested = best if cli.config.test_weights == "best" else None  # None: the weights fit ended with
        for results in trainer.test(model, datamodule=datamodule, ckpt_path=tested, verbose=False):
            metrics.update(_as_floats(results))
    return TrainResult(
        metrics=metrics,
        params=cost.params,
        macs=cost.macs,
        train_images_per_s=cost.train_images_per_s,
        peak_memory_mb=cost.peak_memory_mb,
        wall_time_s=time.perf_counter() - started,
        log_dir=trainer.log_dir,
        best_checkpoint=best,
        config=resolved_config(cli),
        device=device_label(trainer.strategy.root_device),
        threads=torch.get_num_threads(),
    )


def run_training(
    args: Sequence[str],
    *,
    callbacks: Sequence[Callback] = (),
    loggers: Sequence[Logger] = (),
    run_test: bool = True,
) -> TrainResult:
    """Fits (and tests) one configuration in this process, as ``attnlab train ARGS`` would."""
    cli = build_cli(AttnlabCLI, [*args, f"--run_test={json.dumps(run_test)}"], extra_callbacks=callbacks)
    if loggers:
        cli.trainer.loggers = [*cli.trainer.loggers, *loggers]
    return fit_and_test(cli)


def format_summary(result: TrainResult) -> str:
    """The lines ``attnlab train`` ends with: accuracy next to cost, and where the logs are."""
    model = result.config["model"]
    design = f"{model['backbone']['name']} + {model['attention']['type']}"
    lines = [f"design      {design}"]
    for stage in ("test", "val"):
        if f"{stage}/top1_err" in result.metrics:
            lines.append(
                f"{stage + ' error':<11} top-1 {result.metrics[f'{stage}/top1_err']:.2f}%   "
                f"top-5 {result.metrics[f'{stage}/top5_err']:.2f}%"
            )
    if result.params is not None and result.macs is not None:
        lines.append(f"cost        {result.params / 1e6:.3f}M params   {result.macs / 1e9:.4f} GMACs")
    if result.train_images_per_s is not None:
        lines.append(
            f"speed       {result.train_images_per_s:.0f} train images/s   peak memory {result.peak_memory_mb:.0f} MB"
        )
    lines.append(f"wall time   {result.wall_time_s:.1f} s on {result.device}, {result.threads} CPU threads")
    lines.append(f"logs        {result.log_dir}")
    if result.best_checkpoint:
        lines.append(f"best ckpt   {result.best_checkpoint}")
    return "\n".join(lines)
