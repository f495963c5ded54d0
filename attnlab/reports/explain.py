"""``attnlab explain``: where each row of a study looks, on the same seeded images, and how well that hits the object.

For every complete cell: its best checkpoint, the target-class probability P of each image, Grad-CAM at the
last stage (and any other named layer) and the maps of its spatial gates. Scored against the objects' boxes
where the data has them, averaged per cell; the report aggregates those per-cell numbers over seeds like any
metric. Files: one gallery PNG per layer, ``gates.png``, ``explain.json`` (every number), ``localisation.csv``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from rich.console import Console
from rich.progress import track

from attnlab.datamodules.samples import ShownSamples, check_count, check_split
from attnlab.errors import ConfigError
from attnlab.reports.explain_checkpoints import (
    CellCheckpoint,
    complete_checkpoints,
    datamodule_settings,
    load_datamodule,
    load_model,
    settings_key,
)
from attnlab.reports.explain_files import GATES_PNG, GalleryFigure, write_explanation_files
from attnlab.reports.explain_gallery import GalleryRow, draw_gallery
from attnlab.reports.explain_gates import gate_maps, last_gate_per_stage
from attnlab.reports.explain_gradcam import grad_cam, last_stage, named_layer
from attnlab.reports.explain_metrics import LOCALISATION_METRICS
from attnlab.reports.explain_scores import box_mask, energy_in_box, pointing_hit
from attnlab.reports.spec import LoadedStudy


@dataclass(frozen=True)
class ExplainSettings:
    """Which images (``images`` of ``split``, drawn by ``seed``) and which layers besides the last stage."""

    images: int = 8
    split: str = "test"
    layers: tuple[str, ...] = ()
    seed: int = 0


@dataclass
class CellExplanation:
    """One complete cell on the shown images: P of the target class, prediction, Grad-CAM per layer, gate maps
    per stage, and per layer the localisation scores of every image (absent without boxes)."""

    checkpoint: CellCheckpoint
    probabilities: torch.Tensor
    predictions: torch.Tensor
    cams: dict[str, torch.Tensor]
    gates: dict[str, torch.Tensor]
    scores: dict[str, dict[str, list[float]]] = field(default_factory=dict)


@dataclass
class Explanation:
    """A study's complete cells explained on the same ``samples``; ``layers[0]`` is the last stage (scored)."""

    study: str
    profile: str | None
    settings: ExplainSettings
    samples: ShownSamples
    layers: list[str]
    cells: list[CellExplanation]

    @property
    def has_boxes(self) -> bool:
        return self.samples.boxes is not None

    def metric(self, name: str) -> str:
        """The per-cell column of a localisation score, e.g. ``test/cam_in_box``."""
        return f"{self.settings.split}/{name}"


def _mean(values: list[float]) -> float:
    kept = [value for value in values if not math.isnan(value)]
    return math.fsum(kept) / len(kept) if kept else math.nan


def _scores(cams: torch.Tensor, samples: ShownSamples) -> dict[str, list[float]]:
    assert samples.boxes is not None
    height, width = cams.shape[-2:]
    masks = [box_mask(boxes, height, width) for boxes in samples.boxes]
    return {
        "cam_in_box": [energy_in_box(heat, mask) for heat, mask in zip(cams, masks, strict=True)],
        "pointing_hit": [pointing_hit(heat, mask) for heat, mask in zip(cams, masks, strict=True)],
    }


def explain_cell(
    checkpoint: CellCheckpoint, samples: ShownSamples, layers: list[str], model: torch.nn.Module | None = None
) -> CellExplanation:
    """P, prediction, Grad-CAM at ``layers`` and gate maps of one cell on ``samples``."""
    model = model if model is not None else load_model(checkpoint.path)
    with gate_maps(model.net) as maps, torch.no_grad():
        logits = model(samples.inputs)
    gates = last_gate_per_stage(maps)
    probabilities = torch.softmax(logits, dim=1)
    targets = samples.labels
    cams = {layer: grad_cam(model, named_layer(model.net, layer), samples.inputs, targets) for layer in layers}
    explained = CellExplanation(
        checkpoint=checkpoint,
        probabilities=probabilities[torch.arange(len(targets)), targets],
        predictions=probabilities.argmax(dim=1),
        cams=cams,
        gates=gates,
    )
    if samples.boxes is not None:
        explained.scores = {layer: _scores(cams[layer], samples) for layer in layers}
    return explained


class _SharedImages:
    """The seeded images, checked to be the same for every cell (cells trained on other data would show others)."""

    def __init__(self, settings: ExplainSettings) -> None:
        self.settings = settings
        self.samples: ShownSamples | None = None
        self.first_cell = ""
        self.checked: set[str] = set()

    def of(self, checkpoint: CellCheckpoint) -> ShownSamples:
        data = datamodule_settings(checkpoint.path)
        key = settings_key(data)
        if key in self.checked:
            assert self.samples is not None
            return self.samples
        datamodule = load_datamodule(checkpoint.path, data)
        if not hasattr(datamodule, "shown_samples"):
            raise ConfigError(f"cell {checkpoint.cell}: {type(datamodule).__name__} cannot hand out single samples")
        shown = datamodule.shown_samples(self.settings.split, self.settings.images, self.settings.seed)
        if self.samples is None:
            self.samples, self.first_cell = shown, checkpoint.cell
        elif not torch.equal(shown.pictures, self.samples.pictures):
            raise ConfigError(
                f"cell {checkpoint.cell} was trained on other images than cell {self.first_cell}; "
                "explain compares rows on the same images"
            )
        self.checked.add(key)
        return self.samples


def explain_study(loaded: LoadedStudy, settings: ExplainSettings, console: Console | None = None) -> Explanation:
    """Every complete cell of ``loaded`` explained on the same images (a progress bar on ``console``)."""
    check_split(settings.split)
    check_count(settings.images)
    checkpoints = complete_checkpoints(loaded.spec, loaded.records)
    if not checkpoints:
        raise ConfigError(f"study {loaded.spec.name}: no complete cell yet; nothing to explain")
    images = _SharedImages(settings)
    first_samples = images.of(checkpoints[0])
    first_model = load_model(checkpoints[0].path)
    for extra in settings.layers:
        named_layer(first_model.net, extra)  # a wrong name stops here, before any Grad-CAM
    layers = list(dict.fromkeys([last_stage(first_model.net, first_samples.inputs), *settings.layers]))
    cells = []
    progress = console or Console(stderr=True)
    for index, checkpoint in enumerate(track(checkpoints, description="explaining", console=progress, transient=True)):
        samples = images.of(checkpoint)
        cells.append(explain_cell(checkpoint, samples, layers, first_model if index == 0 else None))
    return Explanation(loaded.spec.name, loaded.spec.profile, settings, first_samples, layers, cells)


def localisation_frame(explanation: Explanation) -> pd.DataFrame | None:
    """Per cell (row, seed) the mean over images of each score at the last stage; None without boxes."""
    if not explanation.has_boxes:
        return None
    layer = explanation.layers[0]
    rows = [
        {"row": cell.checkpoint.row, "seed": cell.checkpoint.seed}
        | {explanation.metric(name): _mean(cell.scores[layer][name]) for name in LOCALISATION_METRICS}
        for cell in explanation.cells
    ]
    return pd.DataFrame(rows)


def _shown_cells(explanation: Explanation) -> list[CellExplanation]:
    """One cell per row for the figures: the row's lowest complete seed."""
    shown: dict[str, CellExplanation] = {}
    for cell in explanation.cells:
        current = shown.get(cell.checkpoint.row)
        if current is None or cell.checkpoint.seed < current.checkpoint.seed:
            shown[cell.checkpoint.row] = cell
    return list(shown.values())


def _titles(cell: CellExplanation, labels: torch.Tensor) -> list[str]:
    return [
        f"P={float(p):.2f} " + ("right" if int(guess) == int(label) else f"wrong ({int(guess)})")
        for p, guess, label in zip(cell.probabilities, cell.predictions, labels, strict=True)
    ]


def figures(explanation: Explanation) -> list[GalleryFigure]:
    """One Grad-CAM gallery per layer, and the gate maps of the rows that have spatial gates."""
    samples = explanation.samples
    columns = [f"#{index}: class {int(label)}" for index, label in zip(samples.indices, samples.labels, strict=True)]
    shown = _shown_cells(explanation)
    seeds = ", ".join(f"{cell.checkpoint.row}: seed {cell.checkpoint.seed}" for cell in shown)
    boxes = "; green: the object's box" if explanation.has_boxes else ""
    split = explanation.settings.split
    made = []
    for layer in explanation.layers:
        rows = [GalleryRow(cell.checkpoint.row, cell.cams[layer], _titles(cell, samples.labels)) for cell in shown]
        made.append(
            GalleryFigure(
                file=f"gradcam-{layer}.png",
                heading=f"Grad-CAM at {layer}",
                caption=f"Grad-CAM (captum LayerGradCam) of the target class at {layer} over {len(columns)} {split} "
                f"images drawn with seed {explanation.settings.seed}, the same for every row; P: the target class's "
                f"softmax probability, right/wrong: the prediction (wrong: the predicted class){boxes}. "
                f"One checkpoint per row, the best epoch of its lowest complete seed ({seeds}).",
                png=draw_gallery(samples.pictures, columns, rows, samples.boxes),
            )
        )
    gate_rows = [
        GalleryRow(f"{cell.checkpoint.row}\n{stage} gate", _upsampled(gate, samples.pictures.shape[-2:]))
        for cell in shown
        for stage, gate in cell.gates.items()
    ]
    if gate_rows:
        made.append(
            GalleryFigure(
                file=GATES_PNG,
                heading="Spatial gate maps",
                caption="The sigmoid of each design's spatial gate (the map its attention multiplied by), at the "
                "deepest gate of each stage, read by forward hooks; upsampled to the image, each scaled from its own "
                f"minimum to its maximum (blue to red){boxes}.",
                png=draw_gallery(samples.pictures, columns, gate_rows, samples.boxes),
            )
        )
    return made


def _upsampled(gate: torch.Tensor, size: torch.Size) -> torch.Tensor:
    return torch.nn.functional.interpolate(gate, size=tuple(size), mode="bilinear", align_corners=False)[:, 0]


def _floats(values: torch.Tensor | list[float]) -> list[float | None]:
    listed = values.tolist() if isinstance(values, torch.Tensor) else values
    return [None if math.isnan(value) else round(float(value), 6) for value in listed]


def json_payload(explanation: Explanation) -> dict[str, Any]:
    """Every per-image number (NaN as null), per cell, and each cell's means of the localisation scores."""
    samples = explanation.samples
    cells = []
    for cell in explanation.cells:
        entry: dict[str, Any] = {
            "row": cell.checkpoint.row,
            "seed": cell.checkpoint.seed,
            "checkpoint": str(cell.checkpoint.path),
            "probability": _floats(cell.probabilities),
            "predicted": cell.predictions.tolist(),
            "correct": (cell.predictions == samples.labels).tolist(),
            "gate_stages": list(cell.gates),
        }
        if cell.scores:
            entry["scores"] = {
                layer: {name: _floats(values) for name, values in scores.items()}
                for layer, scores in cell.scores.items()
            }
            entry["means"] = {
                layer: {name: _floats([_mean(values)])[0] for name, values in scores.items()}
                for layer, scores in cell.scores.items()
            }
        cells.append(entry)
    return {
        "study": explanation.study,
        "profile": explanation.profile,
        "split": explanation.settings.split,
        "seed": explanation.settings.seed,
        "layers": explanation.layers,
        "images": {
            "index": list(samples.indices),
            "label": samples.labels.tolist(),
            "boxes": None if samples.boxes is None else [[list(box) for box in boxes] for boxes in samples.boxes],
        },
        "cells": cells,
    }


def write_explanation(explanation: Explanation, out_dir: Path) -> list[Path]:
    """The gallery PNGs, ``explain.json`` and (with boxes) ``localisation.csv`` in ``out_dir``."""
    return write_explanation_files(
        figures(explanation), json_payload(explanation), localisation_frame(explanation), out_dir
    )
