"""What a finished cell keeps of its checkpoints: the best (what ``explain`` and evaluation load), the last, or none.

During training Lightning writes both ``best-epochNNN.ckpt`` and ``last.ckpt`` (the latter is what an
interrupted cell resumes from); once the cell is complete, resuming is over and the study's choice
decides what stays on disk. A 0.7M-parameter model's pair is about 17 MB per cell.
"""

from __future__ import annotations

from pathlib import Path

CHECKPOINT_CHOICES = ("best", "last", "none")
DEFAULT_KEPT = "best"


def keep_checkpoints(best: str | None, keep: str) -> None:
    """Deletes the complete run's checkpoints that ``keep`` does not name (files of this run only)."""
    if best is None or keep not in CHECKPOINT_CHOICES:
        return
    best_path = Path(best)
    lasts = list(best_path.parent.glob("last*.ckpt"))
    for path in {"best": lasts, "last": [best_path], "none": [best_path, *lasts]}[keep]:
        path.unlink(missing_ok=True)
