"""attnlab explain end to end on hand-made checkpoints: same images per row, scores per cell, report columns, CLI."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import lightning
import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from headless_browser import chromium, pixels_of, screenshot

from attnlab.cli.main import main as attnlab
from attnlab.errors import ConfigError
from attnlab.modules import AttentionDesign
from attnlab.modules.backbones import BackboneConfig
from attnlab.modules.classifier import AttentionClassifier
from attnlab.reports.explain import ExplainSettings, Explanation, explain_study, write_explanation
from attnlab.reports.explain_files import read_explanation
from attnlab.reports.explain_gallery import BOX_COLOUR
from attnlab.reports.report import build_report, markdown_text, write_report
from attnlab.reports.spec import LoadedStudy, StudySpec
from attnlab.sweeps.store.records import STUDY_PROFILE_ATTR, CellRecord
from attnlab.sweeps.store.storage import open_storage

INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"  # how LightningCLI-trained checkpoints rebuild classes
BACKBONE = {"name": "resnet18", "stem": "cifar", "width": 0.25}
CLUTTERED = {
    "num_train": 64,
    "num_val": 32,
    "num_test": 32,
    "_class_path": "attnlab.datamodules.ClutteredDigitsDataModule",
}
ROWS = {"plain": "none", "cbam": "cbam"}
SEEDS = (0, 1, 2)


def _save_checkpoint(folder: Path, attention: str, seed: int, data: dict) -> None:
    """An untrained cell's best checkpoint, stored the way LightningCLI stores a trained one."""
    torch.manual_seed(seed)
    in_channels = 1
    model = AttentionClassifier(BackboneConfig(**BACKBONE), AttentionDesign(type=attention), in_channels=in_channels)
    hyper = {"backbone": BACKBONE, "attention": {"type": attention}, "num_classes": 10, "in_channels": in_channels}
    checkpoint = {
        "state_dict": model.state_dict(),
        "pytorch-lightning_version": lightning.__version__,
        "hyper_parameters": hyper | {"_instantiator": INSTANTIATOR},
        "datamodule_hyper_parameters": data | {"_instantiator": INSTANTIATOR},
    }
    (folder / "checkpoints").mkdir(parents=True)
    torch.save(checkpoint, folder / "checkpoints" / "best-epoch000.ckpt")


def _records(root: Path, data: dict, seeds: tuple[int, ...] = SEEDS) -> list[CellRecord]:
    records = []
    for row, attention in ROWS.items():
        for seed in seeds:
            version = f"demo@quick/{row}/seed{seed}/trial0"
            _save_checkpoint(root / "attnlab" / version, attention, seed, data)
            logger = {
                "class_path": "CSVLogger",
                "init_args": {"save_dir": str(root), "name": "attnlab", "version": version},
            }
            config = {"trainer": {"logger": logger}, "model": {"attention": {"type": attention}}}
            metrics = {"test/top1_err": 50.0 + seed + (row == "cbam")}
            records.append(CellRecord("demo", row, seed, config=config, metrics=metrics, state="complete"))
    return records


def _spec() -> StudySpec:
    return StudySpec(name="demo", profile="quick", rows=tuple(ROWS), seeds=SEEDS, baseline="plain")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> LoadedStudy:
    root = tmp_path_factory.mktemp("runs")
    return LoadedStudy(_spec(), _records(root, CLUTTERED), "hand-made")


@pytest.fixture(scope="module")
def explanation(study: LoadedStudy) -> Explanation:
    return explain_study(study, ExplainSettings(images=4, layers=("layer3",)))


@pytest.fixture(scope="module")
def written(explanation: Explanation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("explain")
    write_explanation(explanation, folder)
    return folder


def test_every_cell_is_explained_on_the_same_scored_images(explanation: Explanation) -> None:
    assert explanation.layers == ["layer4", "layer3"] and len(explanation.cells) == 6
    assert explanation.samples.inputs.shape == (4, 1, 32, 32) and len(explanation.samples.boxes) == 4
    for cell in explanation.cells:
        assert {layer: tuple(cam.shape) for layer, cam in cell.cams.items()} == {
            "layer4": (4, 32, 32),
            "layer3": (4, 32, 32),
        }
        assert bool(((cell.probabilities > 0) & (cell.probabilities < 1)).all())
        assert list(cell.gates) == ([] if cell.checkpoint.row == "plain" else ["layer1", "layer2", "layer3", "layer4"])
        for scores in cell.scores.values():
            assert all(math.isnan(v) or 0 <= v <= 100 for values in scores.values() for v in values)
            assert all(math.isnan(hit) or hit in (0.0, 100.0) for hit in scores["pointing_hit"])


def test_written_scores_are_the_per_image_means_and_aggregate_like_metrics(study: LoadedStudy, written: Path) -> None:
    assert sorted(path.name for path in written.iterdir()) == [
        "explain.json",
        "gates.png",
        "gradcam-layer3.png",
        "gradcam-layer4.png",
        "localisation.csv",
    ]
    payload = json.loads((written / "explain.json").read_text())
    assert payload["images"]["index"] == sorted(payload["images"]["index"]) and len(payload["cells"]) == 6
    scores = pd.read_csv(written / "localisation.csv")
    for entry, (_, line) in zip(payload["cells"], scores.iterrows(), strict=True):
        per_image = [value for value in entry["scores"]["layer4"]["cam_in_box"] if value is not None]
        assert (entry["row"], entry["seed"]) == (line["row"], line["seed"])
        assert line["test/cam_in_box"] == pytest.approx(np.mean(per_image), abs=1e-5)
    report = build_report(study, explanation=read_explanation(written, "demo", "quick"))
    summary = report.summary.set_index("row")
    by_seed = scores.pivot(index="seed", columns="row", values="test/cam_in_box")
    assert summary.loc["cbam", "test/cam_in_box.mean"] == pytest.approx(by_seed["cbam"].mean())
    assert summary.loc["cbam", "test/cam_in_box.std"] == pytest.approx(by_seed["cbam"].std())
    difference = by_seed["cbam"] - by_seed["plain"]
    assert summary.loc["cbam", "test/cam_in_box.paired.diff"] == pytest.approx(difference.mean())
    assert summary.loc["plain", "test/cam_in_box.verdict"] == "baseline"
    assert summary.loc["cbam", "test/cam_in_box.verdict"].startswith(("within noise", "better", "worse"))
    header = next(line for line in markdown_text(report).splitlines() if line.startswith("| Architecture"))
    assert "| Grad-CAM in box (%) | Δ Grad-CAM in box [95% CI] | Verdict (Grad-CAM in box) |" in header
    assert "| Pointing game (%) |" in header
    assert read_explanation(written, "demo", "imagenet") is None  # another profile's explanation is not this one


def test_data_without_boxes_gets_galleries_but_no_localisation_columns(tmp_path: Path) -> None:
    digits = {"scale": 4, "_class_path": "attnlab.datamodules.DigitsDataModule"}
    study = LoadedStudy(_spec(), _records(tmp_path / "runs", digits, seeds=(0,)), "hand-made")
    explanation = explain_study(study, ExplainSettings(images=3))
    assert not explanation.has_boxes and all(not cell.scores for cell in explanation.cells)
    paths = write_explanation(explanation, tmp_path / "explain")
    assert [path.name for path in paths] == ["gradcam-layer4.png", "gates.png", "explain.json"]
    report = build_report(study, explanation=read_explanation(tmp_path / "explain", "demo", "quick"))
    assert not any("cam_in_box" in column for column in report.summary) and len(report.figures) == 2
    assert "Grad-CAM in box" not in markdown_text(report)


def test_a_cell_without_its_best_checkpoint_is_named(study: LoadedStudy, tmp_path: Path) -> None:
    record = study.records[4]
    broken = CellRecord(
        **{
            **record.__dict__,
            "config": {
                "trainer": {"logger": {"init_args": {"save_dir": str(tmp_path), "name": "attnlab", "version": "gone"}}}
            },
        }
    )
    loaded = LoadedStudy(study.spec, [*study.records[:4], broken], "hand-made")
    with pytest.raises(
        ConfigError, match=r"^cell cbam/seed1: no best checkpoint \(best\*\.ckpt\) in .*gone/checkpoints"
    ):
        explain_study(loaded, ExplainSettings(images=2))


def _journal(tmp_path: Path, records: list[CellRecord]) -> str:
    url = str(tmp_path / "attnlab.journal")
    optuna_study = optuna.create_study(study_name="demo@quick", storage=open_storage(url))
    optuna_study.set_user_attr(STUDY_PROFILE_ATTR, "quick")
    for record in records:
        trial = optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE,
            value=record.metrics["test/top1_err"],
            user_attrs=record.to_user_attrs(),
        )
        optuna_study.add_trial(trial)
    return url


@pytest.mark.slow  # three commands end to end: ~35 s on 2 busy cores
def test_cli_prints_the_table_or_every_number_and_report_picks_them_up(
    study: LoadedStudy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, out = _journal(tmp_path, [record for record in study.records if record.seed < 2]), tmp_path / "out"
    assert attnlab(["explain", "demo", "--storage", url, "-o", str(out), "--images", "3"]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("| Architecture | Grad-CAM in box (%) |") and "| cbam |" in printed.out
    assert "wrote gradcam-layer4.png, gates.png, explain.json, localisation.csv" in printed.err
    assert attnlab(["explain", "demo", "--storage", url, "-o", str(out), "--images", "3", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["images"]["index"]) == 3 and len(payload["cells"][0]["probability"]) == 3
    assert [row["row"] for row in payload["localisation"]] == ["plain", "cbam"]
    assert attnlab(["report", "demo", "--storage", url, "-o", str(out)]) == 0
    assert "Grad-CAM in box (%)" in capsys.readouterr().out
    html = (out / "report.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == 2 and "Spatial gate maps" in html  # offline: inline
    assert not re.search(r"<script|<link|<iframe|@import|src=\"(?!data:)", html, re.I)
    assert attnlab(["explain", "demo", "--storage", url, "-o", str(out), "--layer", "layer9"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("attnlab explain: error: --layer: 'layer9' is not a part") and error.count("\n") == 1


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="no chromium binary (Debian: apt-get install -y chromium)")
def test_report_with_galleries_renders_offline_in_headless_chromium(
    study: LoadedStudy, written: Path, tmp_path: Path
) -> None:
    report = build_report(study, explanation=read_explanation(written, "demo", "quick"))
    write_report(report, tmp_path / "report")
    image = screenshot(tmp_path / "report" / "report.html", tmp_path, 1400, 3200)
    boxes = np.argwhere(np.abs(image.astype(int) - [0x00, 0xE0, 0x00]).max(axis=-1) <= 40)
    assert len(boxes) > 500  # the object boxes outlined in the galleries
    top, left = boxes.min(axis=0)
    bottom, right = boxes.max(axis=0)
    gallery = image[top : bottom + 1, left : right + 1]
    assert bottom - top > 300 and right - left > 300  # from the first gallery's first box to the last's last
    assert gallery.std() > 40 and len(np.unique(gallery.reshape(-1, 3), axis=0)) > 1000  # images, not a blank box
    red = (gallery[..., 0] > 150) & (gallery[..., 1] < 90) & (gallery[..., 2] < 90)
    blue = (gallery[..., 2] > 150) & (gallery[..., 0] < 90) & (gallery[..., 1] < 120)
    assert red.sum() > 200 and blue.sum() > 200  # the heat maps' hot and cold ends
    assert pixels_of(image, BOX_COLOUR) > 0
