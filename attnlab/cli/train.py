"""``attnlab train``: one design on one dataset, through LightningCLI, and the same run as a function.

The command follows Lightning's conventions (``-c config.yaml``, dotted overrides, every Trainer
flag, ``--print_config``); studies and sweeps call :func:`run_training` with the very same
arguments, so a cell of a study is exactly an ``attnlab train`` run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from jsonargparse import ArgumentError, lazy_instance
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger

from attnlab.datamodules import DigitsDataModule
from attnlab.errors import ConfigError
from attnlab.modules.classifier import AttentionClassifier
from attnlab.modules.cost_monitor import DesignCostMonitor
from attnlab.modules.design import PRESETS

HELP = "train one design on one dataset (LightningCLI: -c config.yaml, dotted overrides)"
DEFAULT_ROOT = "runs/train"
LINKED_FROM_DATA = ("num_classes", "in_channels", "image_size")
MODEL_FIELDS = ("attention.", "backbone.")

# Arguments always come explicitly (after "train", or from a study); sys.argv holds other things.
warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
# Lightning advertises its cloud products on every run; our users came for the metrics.
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
    lambda record: not str(record.getMessage()).startswith("💡 Tip")
)


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


class AttnlabCLI(LightningCLI):
    """LightningCLI with the data's shape linked into the model, ``--ckpt_path`` and a rich progress bar."""

    def __init__(self, args: Sequence[str] | None, extra_callbacks: Sequence[Callback] = ()) -> None:
        self._extra_callbacks = list(extra_callbacks)
        super().__init__(
            AttentionClassifier,
            L.LightningDataModule,
            subclass_mode_data=True,
            args=list(args) if args is not None else None,
            run=False,
            seed_everything_default=0,
            trainer_defaults={
                "default_root_dir": DEFAULT_ROOT,
                "logger": lazy_instance(CSVLogger, save_dir=DEFAULT_ROOT, name="attnlab"),
            },
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"exit_on_error": False, "prog": "attnlab train", "description": __doc__},
            auto_configure_optimizers=False,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--ckpt_path",
            type=str | None,
            default=None,
            help="resume training from this checkpoint, or 'last' for the newest last.ckpt under the log root",
        )
        parser.add_argument(
            "--run_test", type=bool, default=True, help="evaluate the best checkpoint on the test split"
        )
        parser.set_defaults({"data": lazy_instance(DigitsDataModule)})
        for name in LINKED_FROM_DATA:
            parser.link_arguments(f"data.{name}", f"model.{name}", apply_on="instantiate")

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        trainer_config = self._get(self.config_init, "trainer", default={})
        callbacks = list(trainer_config.get("callbacks") or []) + self._extra_callbacks
        wants_bar = trainer_config.get("enable_progress_bar") is not False
        if wants_bar and not any(isinstance(callback, ProgressBar) for callback in callbacks):
            callbacks.append(RichProgressBar())
        return super().instantiate_trainer(callbacks=callbacks, **kwargs)


class _ValidatingCLI(AttnlabCLI):
    """Parses and builds the model and datamodule on the meta device: checks everything, computes nothing."""

    def _set_seed(self) -> None:
        """Validation draws no random numbers, so it leaves the global seed (and the log) alone."""

    def instantiate_classes(self) -> None:
        with torch.device("meta"):
            self.config_init = self.parser.instantiate_classes(self.config)
        self.datamodule = self._get(self.config_init, "data")
        self.model = self._get(self.config_init, "model")


def _summarise_parse_error(text: str) -> str:
    """jsonargparse explains a bad key over a dozen lines; say which key, what it wants, what it got."""
    unrecognised = re.search(r"unrecognized arguments: (\S+)", text)
    if unrecognised:
        return f"{unrecognised.group(1)}: unknown config key; 'attnlab train --help' lists the valid keys"
    key = ".".join(re.findall(r'Parser key "([^"]+)"', text)) or "config"
    unknown = re.search(r"Option '([^']+)' is not accepted", text)
    if unknown:
        return f"{key}.{unknown.group(1)}: unknown config key; 'attnlab train --help' lists the valid keys"
    given = re.search(r"(?:Given|Got) value: (.*)", text)
    got = f", got {given.group(1).strip()!r}" if given else ""
    literal = re.search(r"Expected a typing\.Literal\[([^\]]*)\]", text)
    if literal:
        return f"{key}: must be one of {literal.group(1).replace(chr(39), '')}{got}"
    expected = [name for name in re.findall(r"Expected a <class '([\w.]+)'>", text) if name != "NoneType"]
    if expected:
        return f"{key}: expected {' or '.join(expected)}{got}"
    lines = [line.strip(" -") for line in text.splitlines() if line.strip(" -")]
    return " ".join(lines[:2]) if lines else "invalid configuration"


def _build_cli(cli_class: type[AttnlabCLI], args: Sequence[str], **kwargs: Any) -> AttnlabCLI:
    """Builds the CLI, turning every parse or validation error into a one-line ConfigError."""
    try:
        return cli_class(args, **kwargs)
    except ConfigError:
        raise
    except (ArgumentError, ValueError, TypeError) as error:
        cause = error
        while cause.__cause__ is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__
        message = str(cause) if isinstance(cause, ConfigError) else _summarise_parse_error(str(error))
        if message.startswith(MODEL_FIELDS):
            message = f"model.{message}"  # the model's config records name fields relative to the model
        raise ConfigError(message) from error


def overrides_to_args(overrides: Mapping[str, Any]) -> list[str]:
    """Dotted overrides as CLI arguments: strings as they are (jsonargparse keeps ``str`` fields
    verbatim), everything else JSON-encoded, which jsonargparse reads as YAML."""
    return [f"--{key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in overrides.items()]


def _resolved_config(cli: AttnlabCLI) -> dict[str, Any]:
    """The run's full config as plain data, with the attention design and backbone fully resolved."""
    config = yaml.safe_load(cli.parser.dump(cli.config, skip_link_targets=False, skip_none=False))
    model: AttentionClassifier = cli.model
    config["model"]["attention"] = model.attention.to_dict()
    config["model"]["backbone"] = dataclasses.asdict(model.backbone)
    for name in LINKED_FROM_DATA:
        config["model"][name] = getattr(cli.datamodule, name)
    return config


def validate_train_args(args: Sequence[str]) -> dict[str, Any]:
    """Checks a train configuration without loading data or allocating the model; returns it resolved."""
    return _resolved_config(_build_cli(_ValidatingCLI, args))


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


def _resolve_checkpoint(ckpt_path: str | None, trainer: L.Trainer) -> str | None:
    """'last' means the newest ``last.ckpt`` under the log root (a new run gets a new version dir)."""
    if ckpt_path != "last":
        return ckpt_path
    root = Path(trainer.logger.save_dir if trainer.logger and trainer.logger.save_dir else trainer.default_root_dir)
    candidates = sorted(root.glob("**/last*.ckpt"), key=lambda path: path.stat().st_mtime)
    if not candidates:
        raise ConfigError(f"ckpt_path: 'last' found no last.ckpt under {root}; train once first or give a path")
    return str(candidates[-1])


def _as_floats(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {key: float(value) for key, value in metrics.items()}


def _fit_and_test(cli: AttnlabCLI) -> TrainResult:
    trainer, model, datamodule = cli.trainer, cli.model, cli.datamodule
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
        for results in trainer.test(model, datamodule=datamodule, ckpt_path=best, verbose=False):
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
        config=_resolved_config(cli),
    )


def run_training(
    args: Sequence[str],
    *,
    callbacks: Sequence[Callback] = (),
    loggers: Sequence[Logger] = (),
    run_test: bool = True,
) -> TrainResult:
    """Fits (and tests) one configuration in this process, as ``attnlab train ARGS`` would."""
    cli = _build_cli(AttnlabCLI, [*args, f"--run_test={json.dumps(run_test)}"], extra_callbacks=callbacks)
    if loggers:
        cli.trainer.loggers = [*cli.trainer.loggers, *loggers]
    return _fit_and_test(cli)


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
    lines.append(f"wall time   {result.wall_time_s:.1f} s")
    lines.append(f"logs        {result.log_dir}")
    if result.best_checkpoint:
        lines.append(f"best ckpt   {result.best_checkpoint}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    cli = _build_cli(AttnlabCLI, argv)
    print(format_summary(_fit_and_test(cli)))
    return 0
