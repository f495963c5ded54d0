"""Headless Chromium screenshots of a report, offline, and pixel counts on them (for the HTML report tests)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image


def chromium() -> str | None:
    return next((path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None)


def pixels_of(image: np.ndarray, colour: str, tolerance: int = 6) -> int:
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image[..., :3].astype(int) - rgb).max(axis=-1) <= tolerance).sum())


def screenshot(html: Path, folder: Path, width: int, height: int) -> np.ndarray:
    """The page at ``html`` rendered at width×height with every network request failing, as an RGB array."""
    shot = folder / "shot.png"
    command = [
        str(chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # any network request would fail
        f"--user-data-dir={folder / 'profile'}",
        f"--screenshot={shot}",
        f"--window-size={width},{height}",
        html.as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return np.asarray(Image.open(shot).convert("RGB"))
