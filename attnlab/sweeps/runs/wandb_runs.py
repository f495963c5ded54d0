"""One W&B run per trial, named and grouped so the W&B workspace compares variants with their seeds grouped.

group = the study (or sweep), name = the cell (``ROW/seedN``) or search trial, tags = the row's
axis values as ``key=value``, config = the resolved train config plus an ``attnlab`` entry naming
the cell and the profile (which is how ``attnlab report --wandb`` tells two profiles' runs apart).
Lightning's ``WandbLogger`` creates the run on rank 0 only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightning.pytorch.loggers import WandbLogger

DEFAULT_PROJECT = "attnlab"
MAX_TAG_LENGTH = 64  # W&B rejects longer tags


@dataclass(frozen=True)
class WandbRun:
    """Who a W&B run is (plain data, so it can travel to a per-trial DDP process)."""

    project: str
    group: str
    name: str
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def axis_tags(axes: dict[str, Any]) -> list[str]:
    """``{"model.attention.arrangement": "parallel"}`` -> ``["model.attention.arrangement=parallel"]``."""
    return [f"{axis}={value}"[:MAX_TAG_LENGTH] for axis, value in axes.items()]


def project_name(project: str | None) -> str:
    """The W&B project: the option, else ``WANDB_PROJECT``, else :data:`DEFAULT_PROJECT`."""
    return project or os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT


def make_logger(run: WandbRun) -> WandbLogger:
    """A Lightning logger that opens ``run`` (``dir`` left to W&B, so ``WANDB_DIR`` decides where it is written)."""
    from lightning.pytorch.loggers import WandbLogger

    return WandbLogger(
        project=run.project,
        name=run.name,
        group=run.group,
        tags=run.tags,
        config=run.config,
        save_dir=None,
        job_type="attnlab",
    )


def check_ready() -> None:
    """Fails now, not in every worker, when W&B would ask for a login: no API key and not offline."""
    from attnlab.errors import ConfigError

    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        return
    import wandb

    if not wandb.login(prompt=False, verify=False):
        raise ConfigError("--wandb: not logged in to W&B; run 'wandb login', or set WANDB_MODE=offline to sync later")


def finish_run(failed: bool) -> None:
    """Closes this process's W&B run, if it opened one, so the next trial gets its own run."""
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=1 if failed else 0)
