"""Writers of small datasets in exactly the real on-disk formats, and a local HTTP server for downloads."""

from __future__ import annotations

import functools
import http.server
import pickle
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from attnlab.datamodules.cifar import CifarLayout
from attnlab.datamodules.download import md5_of


def _cifar_batch(layout: CifarLayout, count: int, rng: np.random.Generator, name: str) -> dict[bytes, object]:
    """One batch dict with the official keys: uint8 N×3072 rows, list labels, file names."""
    labels = [int(label) for label in rng.integers(0, layout.num_classes, count)]
    batch: dict[bytes, object] = {
        b"batch_label": name.encode(),
        b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
        b"filenames": [f"img_{index}.png".encode() for index in range(count)],
        layout.label_key: labels,
    }
    if layout.label_key == b"fine_labels":
        batch[b"coarse_labels"] = [label // 5 for label in labels]
    return batch


def write_cifar_folder(data_dir: Path, layout: CifarLayout, per_train_file: int, test_count: int) -> Path:
    """The extracted dataset folder (batch files and meta file) under ``data_dir``, as the archive lays it out."""
    folder = data_dir / layout.folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    files = {name: _cifar_batch(layout, per_train_file, rng, name) for name in layout.train_files}
    files |= {name: _cifar_batch(layout, test_count, rng, name) for name in layout.test_files}
    if layout.label_key == b"labels":
        files["batches.meta"] = {b"label_names": [f"class{index}".encode() for index in range(10)]}
    else:
        files["meta"] = {b"fine_label_names": [f"fine{index}".encode() for index in range(100)]}
    for name, content in files.items():
        with (folder / name).open("wb") as stream:
            pickle.dump(content, stream, protocol=2)
    return folder


def write_cifar_archive(directory: Path, layout: CifarLayout, per_train_file: int, test_count: int) -> str:
    """``layout.archive`` in ``directory``: a tar.gz of the dataset folder, like the official one; returns its MD5."""
    staging = directory / "staging"
    folder = write_cifar_folder(staging, layout, per_train_file, test_count)
    archive = directory / layout.archive
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(folder, arcname=layout.folder)
    return md5_of(archive)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output free of access logs
        pass


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """An HTTP server for ``directory`` on 127.0.0.1 in a thread; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def write_image_folder(root: Path, split: str, per_class: dict[str, int], size: tuple[int, int]) -> None:
    """``root/split/<class>/`` with JPEG and PNG files alternating (RGB, grey-scale and RGBA modes mixed)."""
    rng = np.random.default_rng(len(split))
    for name, count in per_class.items():
        folder = root / split / name
        folder.mkdir(parents=True)
        for index in range(count):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            image = Image.fromarray(pixels)
            if index % 3 == 1:
                image = image.convert("L")
            if index % 2:
                image.save(folder / f"{name}_{index}.JPEG")
            else:
                (image.convert("RGBA") if index % 4 == 0 else image).save(folder / f"{name}_{index}.png")
