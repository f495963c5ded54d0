"""Puts a written report on its Optuna study for optuna-dashboard: the verdict table as the study note,
the report's figures, HTML and Grad-CAM galleries as artifacts in a folder beside the storage.

Called by ``attnlab report`` when it read the study from Optuna; the dashboard (``attnlab dashboard``)
serves the same artifact folder. Files whose content was already uploaded are not uploaded again.
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact

from attnlab.reports.explain_files import EXPLAIN_FOLDER
from attnlab.reports.report import FIGURES_FOLDER, Report, terminal_text
from attnlab.sweeps.store.storage import DEFAULT_STORAGE, is_database, open_storage, optuna_study_name

ARTIFACTS_FOLDER = "artifacts"
UPLOADED_ATTR = "attnlab.artifacts"  # study system attribute: {file name: sha256 of the uploaded content}


def artifact_folder(url: str | None) -> Path:
    """``artifacts/`` beside a journal or SQLite file; ``runs/artifacts`` for a database server."""
    url = url or DEFAULT_STORAGE
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent / ARTIFACTS_FOLDER
    if is_database(url):
        return Path(DEFAULT_STORAGE).parent / ARTIFACTS_FOLDER
    return Path(url).parent / ARTIFACTS_FOLDER


def artifact_store(url: str | None) -> FileSystemArtifactStore:
    folder = artifact_folder(url)
    folder.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(folder))


def study_note(report: Report) -> str:
    """The note: the status, the Markdown results table with its verdicts, and how to read it."""
    return f"{terminal_text(report)}\n_Refreshed by `attnlab report`; the full report is in the study's artifacts._\n"


def publish(report: Report, study: optuna.Study, url: str | None, files: list[Path]) -> list[Path]:
    """Saves the study note and uploads ``files`` not yet uploaded with this content; returns the uploaded."""
    import optuna_dashboard

    optuna_dashboard.save_note(study, study_note(report))
    store = artifact_store(url)
    storage, study_id = study._storage, study._study_id
    uploaded = dict(storage.get_study_system_attrs(study_id).get(UPLOADED_ATTR, {}))
    sent = []
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if uploaded.get(path.name) == digest:
            continue
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=study, mimetype=mimetype)
        uploaded[path.name] = digest
        sent.append(path)
    storage.set_study_system_attr(study_id, UPLOADED_ATTR, uploaded)
    return sent


def publish_to_optuna(report: Report, study: str, profile: str, url: str | None, out_dir: Path) -> list[Path]:
    """``publish`` on the Optuna study of ``study`` under ``profile``: the report's HTML, figures and galleries."""
    optuna_study = optuna.load_study(study_name=optuna_study_name(study, profile), storage=open_storage(url))
    files = [out_dir / "report.html", *sorted((out_dir / FIGURES_FOLDER).glob("*.*"))]
    files += sorted((out_dir / EXPLAIN_FOLDER).glob("*.png"))
    return publish(report, optuna_study, url, [path for path in files if path.is_file()])
