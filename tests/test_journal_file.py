"""The journal file: a torn last record is set aside (never lost), a failed append never tears it."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import optuna
import pytest
from small_filesystem import fill, small_filesystem

from attnlab.errors import ConfigError
from attnlab.sweeps.store.journal_file import TORN_SUFFIX
from attnlab.sweeps.store.storage import open_storage


def _journal_with_trials(path: Path, count: int) -> bytes:
    study = optuna.create_study(storage=open_storage(str(path)), study_name="s")
    for number in range(count):
        study.enqueue_trial({"x": number})
    return path.read_bytes()


def _aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}{TORN_SUFFIX}*"))


def test_a_torn_last_record_is_set_aside_and_the_journal_continues(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.journal"
    whole = _journal_with_trials(path, 3)
    last_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    cut = last_start + (len(whole) - last_start) // 2
    path.write_bytes(whole[:cut])

    complete_lines = whole.count(b"\n") - 1
    with caplog.at_level(logging.WARNING):
        storage = open_storage(str(path))
    assert [record.getMessage() for record in caplog.records if "torn" in record.getMessage()] == [
        f"{path}: its last record was torn (a write cut short): moved its {cut - last_start} bytes to "
        f"{_aside(path)[0]}; the journal continues from its last complete record (line {complete_lines})"
    ]
    assert _aside(path)[0].read_bytes() == whole[last_start:cut]  # the torn bytes, kept
    assert path.read_bytes() == whole[:last_start]
    study = optuna.load_study(study_name="s", storage=storage)
    assert len(study.trials) == 2
    study.enqueue_trial({"x": 9})  # appends after the last complete record
    assert len(optuna.load_study(study_name="s", storage=open_storage(str(path))).trials) == 3


def test_an_append_after_another_writer_was_cut_short_sets_its_bytes_aside(tmp_path: Path) -> None:
    path = tmp_path / "s.journal"
    _journal_with_trials(path, 1)
    storage = open_storage(str(path))
    with path.open("ab") as file:
        file.write(b'{"op_code":9,"worker_id":"112de8eb-a226-')  # a writer killed mid-line
    optuna.load_study(study_name="s", storage=storage).enqueue_trial({"x": 5})
    assert _aside(path)[0].read_bytes() == b'{"op_code":9,"worker_id":"112de8eb-a226-'
    assert len(optuna.load_study(study_name="s", storage=open_storage(str(path))).trials) == 2


def test_a_damaged_record_in_the_middle_is_a_one_line_refusal_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.journal"
    lines = _journal_with_trials(path, 2).splitlines(keepends=True)
    lines[1] = lines[1][:20] + b"\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(ConfigError) as error:
        open_storage(str(path))
    assert str(error.value) == (
        f"--storage {path}: line 2 is not a complete journal record and more records follow it; set the damaged "
        f"part aside and keep the 1 records before it: mv {path} {path}.damaged && head -n 1 {path}.damaged > {path}"
    )
    assert path.read_bytes() == b"".join(lines) and not _aside(path)  # nothing touched


def test_a_file_that_is_no_journal_is_left_as_it_is(tmp_path: Path) -> None:
    notes = tmp_path / "notes.journal"
    notes.write_text("my notes\nhalf a line")
    with pytest.raises(ConfigError, match="not an Optuna journal"):
        open_storage(str(notes))
    assert notes.read_text() == "my notes\nhalf a line" and not _aside(notes)


def test_an_append_on_a_full_disk_leaves_the_journal_whole(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "fs", "256k") as folder:
        path = folder / "s.journal"
        before = _journal_with_trials(path, 1)
        storage = open_storage(str(path))
        study = optuna.load_study(study_name="s", storage=storage)
        filler = fill(folder)
        with pytest.raises(OSError) as error:
            study.set_user_attr("big", "x" * 20_000)  # more than the page the journal's tail may still fill
        assert error.value.errno == errno.ENOSPC and error.value.filename == str(path)
        assert path.read_bytes() == before
        filler.unlink()
        study.set_user_attr("after", 1)
        assert optuna.load_study(study_name="s", storage=open_storage(str(path))).user_attrs == {"after": 1}
