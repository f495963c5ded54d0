"""Object boxes of image files from a CSV (``file,x0,y0,x1,y1``), for ImageNet-style box annotations.

``file`` is the image's path relative to the data root (``val/n01440764/ILSVRC2012_val_00000293.JPEG``);
coordinates are pixels of the original file, ends exclusive; a file with several objects has several lines.
"""

from __future__ import annotations

import csv
from pathlib import Path

from attnlab.datamodules.samples import Box
from attnlab.errors import ConfigError

BOX_COLUMNS = ("file", "x0", "y0", "x1", "y1")


def _box(values: list[str], where: str) -> Box:
    try:
        x0, y0, x1, y1 = (round(float(value)) for value in values)
    except ValueError:
        raise ConfigError(f"{where}: {values} are not pixel coordinates; valid: numbers x0 < x1, y0 < y1") from None
    if not (0 <= x0 < x1 and 0 <= y0 < y1):
        raise ConfigError(f"{where}: box {values} is empty or negative; valid: 0 <= x0 < x1, 0 <= y0 < y1")
    return x0, y0, x1, y1


def read_boxes_csv(path: Path) -> dict[str, tuple[Box, ...]]:
    """Every file's boxes, keyed by its path relative to the data root (POSIX separators)."""
    if not path.is_file():
        raise ConfigError(f"data.boxes_csv: {path} is not a file; valid: a CSV with header {','.join(BOX_COLUMNS)}")
    boxes: dict[str, tuple[Box, ...]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        if tuple(cell.strip() for cell in header) != BOX_COLUMNS:
            raise ConfigError(f"data.boxes_csv: {path} starts with {header}; valid header: {','.join(BOX_COLUMNS)}")
        for line, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(fields) != len(BOX_COLUMNS):
                raise ConfigError(f"data.boxes_csv: {path} line {line} has {len(fields)} fields; valid: 5")
            name = Path(fields[0].strip()).as_posix()
            boxes[name] = (*boxes.get(name, ()), _box(fields[1:], f"data.boxes_csv: {path} line {line}"))
    return boxes
