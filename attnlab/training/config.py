"""The train configuration: the LightningCLI parser every run goes through, and its checks.

``attnlab train``, study cells and sweep trials all parse their arguments here, so a cell of a
study is exactly an ``attnlab train`` run and a bad key is refused the same way everywhere.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import lightning as L
import torch
import yaml
from jsonargparse import ArgumentError, lazy_instance
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.accelerators import AcceleratorRegistry
from lightning.pytorch.callbacks import Callback, ProgressBar, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.trainer.connectors.accelerator_connector import _AcceleratorConnector

from attnlab.datamodules import DigitsDataModule
from attnlab.errors import ConfigError
from attnlab.modules.classifier import AttentionClassifier
from attnlab.modules.feature_maps import check_spatial_kernel

DEFAULT_ROOT = "runs/train"
TRAIN_DESCRIPTION = "Train one attention design on one dataset (-c config.yaml, dotted overrides, every Trainer flag)."
LINKED_FROM_DATA = ("num_classes", "in_channels", "image_size")
MODEL_FIELDS = ("attention.", "backbone.")
# The Trainer settings that decide where a run runs; Lightning checks them against this machine.
DEVICE_SETTINGS = ("accelerator", "devices", "strategy", "num_nodes", "precision", "plugins", "sync_batchnorm")

# Arguments always come explicitly (after "train", or from a study); sys.argv holds other things.
warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
# Lightning advertises its cloud products on every run; our users came for the metrics.
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
    lambda record: not str(record.getMessage()).startswith("💡 Tip")
)


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
            parser_kwargs={"exit_on_error": False, "prog": "attnlab train", "description": TRAIN_DESCRIPTION},
            auto_configure_optimizers=False,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--ckpt_path",
            type=str | None,
            default=None,
            help="resume training from this checkpoint, or 'last' for the newest last.ckpt under the log root",
        )
        parser.add_argument("--run_test", type=bool, default=True, help="evaluate the trained model on the test split")
        parser.add_argument(
            "--test_weights",
            type=Literal["best", "final"],
            default="best",
            help="weights the test evaluates: 'best' (the checkpoint of the best validation epoch) or 'final' (the "
            "weights training ended with, averaged under model.ema_decay): no choice on a noisy validation set",
        )
        parser.set_defaults({"data": lazy_instance(DigitsDataModule)})
        for name in LINKED_FROM_DATA:
            parser.link_arguments(f"data.{name}", f"model.{name}", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        require_schedule_end(self._get(self.config, "trainer"), self._get(self.config, "model").scheduler.name)

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        trainer_config = self._get(self.config_init, "trainer", default={})
        check_trainer_settings(trainer_config)
        callbacks = list(trainer_config.get("callbacks") or []) + self._extra_callbacks
        wants_bar = trainer_config.get("enable_progress_bar") is not False
        if wants_bar and not any(isinstance(callback, ProgressBar) for callback in callbacks):
            callbacks.append(RichProgressBar())
        return super().instantiate_trainer(callbacks=callbacks, **kwargs)


def require_schedule_end(trainer: Any, scheduler_name: str) -> None:
    """Lightning's ``max_epochs=-1`` trains until stopped; a cosine schedule decays towards an end it needs."""
    if trainer.max_epochs == -1 and trainer.max_steps == -1 and scheduler_name == "cosine":
        raise ConfigError(
            "trainer.max_epochs: -1 (train until stopped) leaves the cosine schedule without an end; valid: a "
            "positive number of epochs, a trainer.max_steps > 0, or model.scheduler.name none, step or multistep"
        )


class _ValidatingCLI(AttnlabCLI):
    """Parses and builds the model and datamodule on the meta device: checks everything, computes nothing."""

    build_device = "meta"

    def _set_seed(self) -> None:
        """Validation draws no random numbers, so it leaves the global seed (and the log) alone."""

    def instantiate_classes(self) -> None:
        with torch.device(self.build_device):
            self.config_init = self.parser.instantiate_classes(self.config)
        self.datamodule = self._get(self.config_init, "data")
        self.model = self._get(self.config_init, "model")
        check_trainer_settings(self._get(self.config_init, "trainer", default={}))
        if self.build_device == "meta" and self.model.attention.kernel_size is not None:
            check_spatial_kernel(
                self.model.attention.kernel_size, self.model, self.datamodule.in_channels, self.datamodule.image_size
            )


def _check_accelerator(accelerator: Any) -> None:
    registered = AcceleratorRegistry.available_accelerators()
    if not isinstance(accelerator, str) or accelerator not in {*registered, "gpu"}:
        return  # "auto", an Accelerator instance, or a name Lightning itself refuses below
    here = sorted(name for name in registered if AcceleratorRegistry[name]["accelerator"].is_available())
    wanted = {"cuda", "mps"} if accelerator == "gpu" else {accelerator}  # Lightning's "gpu" is either
    if not wanted & set(here):
        raise ConfigError(
            f"trainer.accelerator: {accelerator!r} is not available on this machine; available: auto, {', '.join(here)}"
        )


def _setting_named_by(message: str) -> str:
    for name in ("precision", "strategy", "devices", "accelerator", "num_nodes", "plugins"):
        if name in message.lower():
            return f"trainer.{name}"
    return "trainer"


def check_trainer_settings(trainer: Mapping[str, Any]) -> None:
    """Refuses, in one line and before any compute, a Trainer setting that would fail every run on this machine:
    an accelerator that is not here, devices it does not have, a precision or strategy it cannot run, no epochs."""
    max_epochs = trainer.get("max_epochs")
    if max_epochs is not None and max_epochs != -1 and max_epochs < 1:
        raise ConfigError(f"trainer.max_epochs: {max_epochs}; use 1 or more, or -1 for no limit")
    _check_accelerator(trainer.get("accelerator"))
    chosen = {name: trainer[name] for name in DEVICE_SETTINGS if trainer.get(name) is not None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # What Trainer.__init__ runs on these settings (accelerator, strategy, precision plugin), without a
            # Trainer: validation builds nothing that trains.
            _AcceleratorConnector(**chosen)
    except (MisconfigurationException, ValueError, TypeError, ImportError) as error:
        reason = " ".join(str(error).split())
        raise ConfigError(f"{_setting_named_by(reason)}: {reason}") from None


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


def build_cli(cli_class: type[AttnlabCLI], args: Sequence[str], **kwargs: Any) -> AttnlabCLI:
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


def resolved_config(cli: AttnlabCLI) -> dict[str, Any]:
    """The run's full config as plain data, with the attention design and backbone fully resolved."""
    config = yaml.safe_load(cli.parser.dump(cli.config, skip_link_targets=False, skip_none=False))
    model: AttentionClassifier = cli.model
    config["model"]["attention"] = model.attention.to_dict()
    config["model"]["backbone"] = dataclasses.asdict(model.backbone)
    for name in LINKED_FROM_DATA:
        config["model"][name] = getattr(cli.datamodule, name)
    return config


class _ModelCLI(_ValidatingCLI):
    """Builds the model and datamodule for real (on the CPU, weights initialised), without a trainer or data."""

    build_device = "cpu"


def build_model_and_data(args: Sequence[str]) -> tuple[AttentionClassifier, L.LightningDataModule]:
    """The model (with its initial weights) and the unloaded datamodule a train configuration describes."""
    cli = build_cli(_ModelCLI, args)
    return cli.model, cli.datamodule


def validate_train_args(args: Sequence[str]) -> dict[str, Any]:
    """Checks a train configuration without loading data or allocating the model; returns it resolved."""
    return resolved_config(build_cli(_ValidatingCLI, args))
