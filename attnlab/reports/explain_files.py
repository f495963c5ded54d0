"""What ``attnlab explain`` leaves on disk, and how ``attnlab report`` reads it back (without torch).

Folder ``runs/reports/STUDY/explain/``: one gallery PNG per figure, ``explain.json`` (every per-image number,
the figures' headings and captions) and, for data with boxes, ``localisation.csv`` (one line per cell).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

EXPLAIN_FOLDER = "explain"  # inside the report folder, where ``attnlab report`` finds it
EXPLAIN_JSON = "explain.json"
LOCALISATION_CSV = "localisation.csv"
GATES_PNG = "gates.png"


@dataclass(frozen=True)
class GalleryFigure:
    """A gallery PNG with the file name it is written under and how the report introduces it."""

    file: str
    heading: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class WrittenExplanation:
    """What ``attnlab report`` takes from an explain folder: per-cell scores (None without boxes) and figures."""

    localisation: pd.DataFrame | None
    figures: list[GalleryFigure]


def write_explanation_files(
    figures: list[GalleryFigure], payload: dict[str, Any], localisation: pd.DataFrame | None, out_dir: Path
) -> list[Path]:
    """Writes the figures, ``explain.json`` (``payload`` and the figures' captions) and ``localisation.csv``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for figure in figures:
        path = out_dir / figure.file
        path.write_bytes(figure.png)
        paths.append(path)
    described = [{"file": figure.file, "heading": figure.heading, "caption": figure.caption} for figure in figures]
    path = out_dir / EXPLAIN_JSON
    path.write_text(json.dumps(payload | {"figures": described}, indent=2) + "\n", encoding="utf-8")
    paths.append(path)
    scores = out_dir / LOCALISATION_CSV
    if localisation is not None:
        localisation.to_csv(scores, index=False)
        paths.append(scores)
    elif scores.exists():
        scores.unlink()  # an earlier run's scores must not outlive a run on data without boxes
    return paths


def read_explanation(folder: Path, study: str, profile: str | None) -> WrittenExplanation | None:
    """The explanation written for ``study`` under ``profile`` in ``folder``; None if there is none."""
    path = folder / EXPLAIN_JSON
    if not path.is_file():
        return None
    payload = json.loads(path.read_text(encoding="utf-8"))
    if payload.get("study") != study or payload.get("profile") != profile:
        return None
    figures = [
        GalleryFigure(entry["file"], entry["heading"], entry["caption"], (folder / entry["file"]).read_bytes())
        for entry in payload.get("figures", [])
        if (folder / entry["file"]).is_file()
    ]
    scores = folder / LOCALISATION_CSV
    return WrittenExplanation(pd.read_csv(scores) if scores.is_file() else None, figures)
