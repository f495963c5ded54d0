"""W&B run files on disk (``wandb/offline-run-*/run-*.wandb``), read without a server.

Since wandb 0.2x the SDK writes these transaction logs from its Go core and the Python package
no longer ships a reader, so this module reads the format itself: a 7-byte file header
(``:W&B``, magic 0xBEE1, version 0) followed by LevelDB-log-style 32 KiB blocks of chunks, each
``crc32 (4) | length (2) | type (1) | data`` with types full/first/middle/last; a chunk's
checksum is zlib's CRC-32 of its data seeded with the CRC-32 of its type byte. The data of each
reassembled record is a ``wandb.proto.wandb_internal_pb2.Record``, parsed with wandb's own
protobuf classes. A log whose run is still writing ends in a partial chunk; reading stops there.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.progress import track
from wandb.proto import wandb_internal_pb2

from attnlab.errors import ConfigError
from attnlab.reports.sources.wandb_runs import WandbRun, study_from_runs
from attnlab.reports.spec import LoadedStudy

FILE_HEADER = struct.Struct("<4sHB")
FILE_IDENT, FILE_MAGIC, FILE_VERSION = b":W&B", 0xBEE1, 0
CHUNK_HEADER = struct.Struct("<IHB")
BLOCK_SIZE = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_TYPE_CRC = {chunk_type: zlib.crc32(bytes([chunk_type])) for chunk_type in (FULL, FIRST, MIDDLE, LAST)}
RUN_FILE_GLOBS = ("offline-run-*/run-*.wandb", "run-*/run-*.wandb")


def read_records(path: Path) -> Iterator[wandb_internal_pb2.Record]:
    """Every complete record of the transaction log at ``path``, in write order."""
    data = path.read_bytes()
    if len(data) < FILE_HEADER.size or FILE_HEADER.unpack_from(data) != (FILE_IDENT, FILE_MAGIC, FILE_VERSION):
        raise ConfigError(f"{path}: not a W&B run file (expected the ':W&B' header, version {FILE_VERSION})")
    offset, pending = FILE_HEADER.size, bytearray()
    while offset + CHUNK_HEADER.size <= len(data):
        room = BLOCK_SIZE - offset % BLOCK_SIZE
        if room < CHUNK_HEADER.size:  # the writer pads a block's tail that cannot hold a chunk header
            offset += room
            continue
        checksum, length, chunk_type = CHUNK_HEADER.unpack_from(data, offset)
        start = offset + CHUNK_HEADER.size
        chunk = data[start : start + length]
        if len(chunk) < length or chunk_type not in _TYPE_CRC:
            return  # the tail of a log still being written
        if zlib.crc32(chunk, _TYPE_CRC[chunk_type]) != checksum:
            raise ConfigError(f"{path}: corrupt W&B run file (checksum mismatch at byte {offset})")
        offset = start + length
        if chunk_type in (FULL, FIRST):
            pending = bytearray()
        pending += chunk
        if chunk_type in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(bytes(pending))
            yield record


def _subtree(target: dict[str, Any], item: Any) -> tuple[dict[str, Any], str]:
    """The dict holding an item's key (``key``, or the path ``nested_key``), created on the way, and that key."""
    *parents, leaf = list(item.nested_key) or [item.key]
    for part in parents:
        target = target.setdefault(part, {})
    return target, leaf


def _apply(target: dict[str, Any], updates: Any, removals: Any) -> None:
    """Applies a config or summary record's items (JSON values) to a nested dict."""
    for item in updates:
        node, key = _subtree(target, item)
        node[key] = json.loads(item.value_json)
    for item in removals:
        node, key = _subtree(target, item)
        node.pop(key, None)


def read_run(path: Path) -> WandbRun:
    """The run a transaction log describes: its last config and summary, and how it ended.

    A log without an exit record belongs to a run still writing, or to one that died without
    saying so; it counts as running (W&B's server would later call it crashed).
    """
    name, group, state = path.parent.name, None, "running"
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for record in read_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            name, group = record.run.display_name or name, record.run.run_group or None
            _apply(config, record.run.config.update, record.run.config.remove)
        elif kind == "config":
            _apply(config, record.config.update, record.config.remove)
        elif kind == "summary":
            _apply(summary, record.summary.update, record.summary.remove)
        elif kind == "exit":
            state = "finished" if record.exit.exit_code == 0 else "failed"
    return WandbRun(name=name, group=group, state=state, config=config, summary=summary)


def run_files(directory: Path) -> list[Path]:
    """The run files under a ``wandb`` directory, or under a directory that holds one."""
    roots = [directory, directory / "wandb"]
    return sorted({path for root in roots for pattern in RUN_FILE_GLOBS for path in root.glob(pattern)})


def load_from_wandb_dir(directory: Path, study: str, profile: str) -> LoadedStudy:
    """The study's runs among the W&B run files under ``directory`` (``--wandb-dir``)."""
    if not directory.is_dir():
        raise ConfigError(f"--wandb-dir {directory}: not a directory; pass the folder that holds wandb/ (or wandb/)")
    paths = run_files(directory)
    if not paths:
        raise ConfigError(f"--wandb-dir {directory}: no W&B run files (offline-run-*/run-*.wandb) under it")
    runs = [read_run(path) for path in track(paths, description="reading W&B run files", transient=True)]
    return study_from_runs(study, profile, runs, f"{len(paths)} W&B run files under {directory}")
