"""Every malformed study of the corpus is refused with one line naming the file, the row and the field.

Each file in ``tests/malformed_studies/`` starts with ``# expect: TEXT`` lines: text the error must
contain. Refusal must come from reading and validating only: no trainer is built, no data is read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import lightning.pytorch as pl
import pytest

from attnlab.ablations import load_study, validate_study
from attnlab.datamodules.base import TensorDataModule
from attnlab.errors import ConfigError

CORPUS = sorted((Path(__file__).parent / "malformed_studies").glob("*.yaml"))
EXPECT = "# expect: "


def expectations(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.removeprefix(EXPECT).strip() for line in lines if line.startswith(EXPECT)]


def test_the_corpus_is_large_and_every_case_says_what_it_expects() -> None:
    assert len(CORPUS) >= 20
    assert all(expectations(path) for path in CORPUS)


@pytest.fixture
def no_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if anything builds a trainer or reads data."""

    def forbid(method: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(method)  # keeps the signature the CLI's parser reads
        def forbidden(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"validation must not call {method.__qualname__}")

        return forbidden

    monkeypatch.setattr(pl.Trainer, "__init__", forbid(pl.Trainer.__init__))
    monkeypatch.setattr(TensorDataModule, "setup", forbid(TensorDataModule.setup))
    monkeypatch.setattr(TensorDataModule, "prepare_data", forbid(TensorDataModule.prepare_data))


@pytest.mark.usefixtures("no_compute")
@pytest.mark.parametrize("path", CORPUS, ids=[path.stem for path in CORPUS])
def test_malformed_study_is_refused_in_one_line_before_training(path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        validate_study(load_study(path), "quick")
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    for expected in expectations(path):
        assert expected in message
