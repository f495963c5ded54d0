"""A retried cell resumes from the ``last.ckpt`` its interrupted (or lost) earlier attempt left behind.

Each attempt logs to its own folder, ``SAVE_DIR/NAME/STUDY@PROFILE-TOKEN/ROW/seedN/trialK`` (see
:func:`~attnlab.sweeps.runs.trial_runs.log_version_override`; the token is the storage's, from
:func:`~attnlab.sweeps.store.settings.log_folder`, so another storage's study of the same name is never
resumed from), and Lightning keeps ``last.ckpt`` there
after every epoch. Only attempts that did not finish leave a cell to retry, so the newest earlier
``last.ckpt`` of the cell is where its training stopped: a preempted or timed-out cell goes on from
its last epoch instead of starting again.

A kill can cut a checkpoint short. A torn or unreadable ``last.ckpt`` is passed over (one line says
so) for the newest readable ``last.ckpt`` of the earlier attempts, else the cell starts afresh: a machine
fault never becomes the cell's config failure. Best checkpoints are not resumed from: one taken at the run's
final epoch leaves nothing to train, so the complete attempt would keep no checkpoint of its own.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_TRIAL_FOLDER = re.compile(r"^trial(\d+)$")
_logger = logging.getLogger(__name__)


def is_readable_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a whole ``torch.save`` archive: its zip directory is there and every member's CRC
    matches (a file cut short by a kill has no directory; nothing is unpickled)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


def _log_root(config: Mapping[str, Any]) -> Path | None:
    """``SAVE_DIR/NAME`` of a logger that takes a version (CSV, TensorBoard); None for others."""
    logger = config.get("trainer", {}).get("logger")
    if not isinstance(logger, Mapping) or "version" not in (logger.get("init_args") or {}):
        return None
    init = logger["init_args"]
    return Path(init.get("save_dir") or ".") / str(init.get("name") or "")


def resume_override(config: Mapping[str, Any], folder: str, cell: str, number: int) -> dict[str, Any]:
    """``{"ckpt_path": …}`` of the cell's newest earlier attempt's ``last.ckpt``; ``{}`` when there is none."""
    root = _log_root(config)
    if root is None:
        return {}
    candidates = []
    for path in (root / folder / cell).glob("trial*/checkpoints/last.ckpt"):
        match = _TRIAL_FOLDER.match(path.parent.parent.name)
        if match and int(match[1]) < number:
            candidates.append((int(match[1]), path))
    for _, path in sorted(candidates, reverse=True):  # newest attempt first
        if is_readable_checkpoint(path):
            return {"ckpt_path": str(path)}
        _logger.warning("%s: not a whole checkpoint (cut short by a kill?); passed over for an older one", path)
    return {}
