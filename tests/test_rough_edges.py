"""Rough edges a new user hit, each now one line and the right exit status (issue 12's list, one test each)."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from fixtures_data import write_cifar_folder, write_image_folder
from optuna.trial import TrialState, create_trial
from test_train import tiny_args

from attnlab.cli.main import main
from attnlab.datamodules import ImageFolderDataModule
from attnlab.datamodules.cifar import CIFAR10, read_batch_file
from attnlab.sweeps.ablation import summary
from attnlab.sweeps.store.attempts import CELL_ATTR, END_ATTR, FAILURE_REASON_ATTR, End
from attnlab.sweeps.store.ledger import Ledger
from attnlab.training import overrides_to_args, run_training


def _error_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    """The error line the CLI printed last on stderr (Lightning may log other lines before it)."""
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f"attnlab {command}: error: ")
    return line.removeprefix(f"attnlab {command}: error: ")


class _CreatesAFile:
    """A pickle payload: unpickling calls ``open(path, "w")``, which creates the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.path), "w")


def test_a_crafted_cifar_batch_is_refused_and_its_payload_never_runs(
    in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_cifar_folder(in_tmp_dir / "data", CIFAR10, per_train_file=4, test_count=4)
    canary = in_tmp_dir / "plain-pickle-ran-this"
    pickle.loads(pickle.dumps({b"data": _CreatesAFile(canary)}, protocol=2))
    assert canary.is_file()  # the payload is live: plain pickle would run it
    marker = in_tmp_dir / "payload-ran"
    crafted = {b"data": _CreatesAFile(marker), b"labels": [0]}
    (folder / "data_batch_1").write_bytes(pickle.dumps(crafted, protocol=2))

    argv = [*tiny_args(), "--data=attnlab.datamodules.CIFAR10DataModule", f"--data.data_dir={in_tmp_dir / 'data'}"]
    assert main(["train", *argv, "--data.in_memory=false", "--data.num_workers=0"]) == 2
    message = _error_line(capsys, "train")
    assert message == (
        f"data.data_dir: {folder / 'data_batch_1'} is not a CIFAR batch file: its pickle would call io.open, "
        "which was refused (CIFAR files hold only dicts, lists, bytes, str and numpy arrays); "
        "replace it with the official file"
    )
    assert not marker.exists()


def test_batches_pickled_by_numpy_1_still_load(tmp_path: Path) -> None:
    folder = write_cifar_folder(tmp_path, CIFAR10, per_train_file=4, test_count=4)
    written = (folder / "test_batch").read_bytes()
    assert b"numpy._core.multiarray\n_reconstruct" in written  # numpy 2's name; numpy 1 wrote numpy.core
    (folder / "test_batch").write_bytes(written.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    images, labels = read_batch_file(folder / "test_batch", CIFAR10)
    assert images.shape == (4, 3, 32, 32) and images.dtype == np.uint8 and labels.shape == (4,)


def test_max_epochs_minus_one_is_refused_with_a_cosine_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *tiny_args(), "--trainer.max_epochs=-1", "--model.scheduler.name=cosine"]) == 2
    assert _error_line(capsys, "train") == (
        "trainer.max_epochs: -1 (train until stopped) leaves the cosine schedule without an end; valid: a positive "
        "number of epochs, a trainer.max_steps > 0, or model.scheduler.name none, step or multistep"
    )


class _StopAfterTwoEpochs(L.Callback):
    def __init__(self) -> None:
        self.learning_rates: list[float] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.learning_rates.append(trainer.optimizers[0].param_groups[0]["lr"])
        trainer.should_stop = trainer.current_epoch >= 1


def test_max_epochs_minus_one_trains_until_stopped_with_a_step_schedule(in_tmp_dir: Path) -> None:
    stopper = _StopAfterTwoEpochs()
    schedule = {"model.scheduler.name": "step", "model.scheduler.step_size": 1, "model.scheduler.warmup_epochs": 0}
    run_training(tiny_args(**{"trainer.max_epochs": -1, **schedule}), callbacks=[stopper], run_test=False)
    first, second = stopper.learning_rates
    assert second == pytest.approx(first * 0.1)  # stepped once per epoch: the epoch length was measured


def _damaged_checkpoint(path: Path) -> Path:
    torch.save({"state_dict": {"weight": torch.arange(4096.0)}}, path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        member = next(info for info in archive.infolist() if info.file_size >= 4096)
    middle = member.header_offset + 200  # inside the member's stored bytes, past its local header
    data[middle : middle + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda folder: folder / "missing.ckpt", "{path}: no such file"),
        (lambda folder: folder / "garbage.ckpt", "{path} is not a readable checkpoint (File is not a zip file)"),
        (lambda folder: _damaged_checkpoint(folder / "damaged.ckpt"), "{path} is damaged (member"),
    ],
    ids=["missing", "not-a-checkpoint", "damaged"],
)
def test_ckpt_path_missing_or_corrupted_is_one_line(
    make, message: str, in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp_dir / "garbage.ckpt").write_bytes(b"not a checkpoint")
    path = make(in_tmp_dir)
    assert main(["train", *tiny_args(), f"--ckpt_path={path}"]) == 2
    line = _error_line(capsys, "train")
    assert line.startswith("ckpt_path: " + message.format(path=path)) and line.endswith(
        "valid: a .ckpt file written by attnlab train (Lightning), or 'last'"
    )


@pytest.fixture
def folder_with_a_non_image(tmp_path: Path) -> tuple[Path, Path]:
    write_image_folder(tmp_path, "train", {"ant": 4, "bee": 4}, size=(12, 12))
    write_image_folder(tmp_path, "val", {"ant": 1, "bee": 1}, size=(12, 12))
    impostor = tmp_path / "train" / "bee" / "notes.jpg"
    impostor.write_text("not an image")
    return tmp_path, impostor


@pytest.mark.parametrize("workers", [0, 2])
def test_a_file_that_is_not_an_image_is_named_in_one_line(
    workers: int, folder_with_a_non_image: tuple[Path, Path], in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, impostor = folder_with_a_non_image
    data = {"data.root": str(root), "data.num_classes": 2, "data.crop_size": 8, "data.resize_size": 8}
    data |= {"data.batch_size": 4, "data.val_fraction": 0.2, "data.num_workers": workers}
    argv = [*tiny_args(), "--data=attnlab.datamodules.ImageFolderDataModule", *overrides_to_args(data)]
    assert main(["train", *argv, "--trainer.max_epochs=1"]) == 2
    assert _error_line(capsys, "train") == (
        f"data.root: {impostor} is not a readable image (cannot identify image file {str(impostor)!r}); valid: JPEG "
        "or PNG files; remove it, or set data.skip_unreadable=true to leave such files out with a warning"
    )


def test_skip_unreadable_leaves_the_file_out_with_a_warning(folder_with_a_non_image: tuple[Path, Path]) -> None:
    root, impostor = folder_with_a_non_image
    datamodule = ImageFolderDataModule(root=root, val_fraction=0.2, skip_unreadable=True, num_workers=0)
    with pytest.warns(UserWarning, match=f"left out 1 files that are not readable images: {impostor}$"):
        datamodule.setup("fit")
    listed = [path for files, _ in datamodule.samples.values() for path in files]
    assert len(listed) == 10 and impostor not in listed


def test_sqlite_storage_in_a_folder_that_cannot_be_created(
    in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp_dir / "a-file").write_text("")
    url = f"sqlite:///{in_tmp_dir}/a-file/dir/x.db"
    assert main(["ablate", "bam-combine", "--storage", url]) == 2
    assert _error_line(capsys, "ablate").startswith(
        f"--storage {url}: cannot create the folder {in_tmp_dir}/a-file/dir (Not a directory); valid: "
    )
    assert not (in_tmp_dir / "runs").exists()


def test_wandb_sweep_output_that_cannot_be_written(in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_tmp_dir / "a-file").write_text("")
    (in_tmp_dir / "folder.yaml").mkdir()
    storage = str(in_tmp_dir / "s.journal")
    assert main(["wandb-sweep", "bam-combine", "-o", "a-file/sweep.yaml", "--storage", storage]) == 2
    assert _error_line(capsys, "wandb-sweep") == (
        "--output a-file/sweep.yaml: cannot be written (a-file: File exists); valid: a writable .yaml path"
    )
    assert main(["wandb-sweep", "bam-combine", "-o", "folder.yaml", "--storage", storage]) == 2
    assert _error_line(capsys, "wandb-sweep") == (
        "--output folder.yaml: cannot be written (folder.yaml: Is a directory); valid: a writable .yaml path"
    )


def _cell(number: int, cell: str, state: TrialState, reason: str | None = None):
    trial = create_trial(
        state=state,
        value=1.0 if state == TrialState.COMPLETE else None,
        system_attrs={CELL_ATTR: cell} | ({END_ATTR: End.FINAL.value} if reason else {}),
        user_attrs={FAILURE_REASON_ATTR: reason} if reason else {},
    )
    trial.number = number
    return trial


def test_ablate_summary_ends_with_how_many_cells_failed() -> None:
    cells = ["plain/seed0", "nan/seed0"]
    some = Ledger(cells, [_cell(0, cells[0], TrialState.COMPLETE), _cell(1, cells[1], TrialState.FAIL, "nan")], 2)
    assert summary("s@quick", some) == [
        "  failed nan/seed0: nan",
        "s@quick: 2/2 cells finished, 1 complete, 1 failed",
    ]
    every = Ledger(cells, [_cell(0, cells[0], TrialState.FAIL, "oom"), _cell(1, cells[1], TrialState.FAIL, "nan")], 2)
    assert summary("s@quick", every)[-1] == "s@quick: every cell failed (2 of 2, reasons above)"


def test_dashboard_checks_options_in_the_order_written(in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port_message = "--port: 70000 is not a TCP port; use 1-65535 (e.g. 8080)"
    assert main(["dashboard", "--port", "70000"]) == 2  # the default storage does not exist here either
    assert _error_line(capsys, "dashboard") == port_message
    assert main(["dashboard", "--port", "70000", "--storage", "none.journal"]) == 2
    assert _error_line(capsys, "dashboard") == port_message
    assert main(["dashboard", "--storage", "none.journal", "--port", "70000"]) == 2
    assert _error_line(capsys, "dashboard").startswith("--storage none.journal: no such file")
    assert main(["dashboard", "--host", "192.0.2.1", "--storage", "none.journal"]) == 2  # TEST-NET: not ours
    assert _error_line(capsys, "dashboard").startswith("--host 192.0.2.1: cannot listen there")
