"""Fetch an archive over HTTP(S) with a progress bar, verify its MD5, and extract it safely.

Every failure (unreachable mirror, checksum mismatch, not a tar.gz) is a one-line ``ConfigError`` that
names the argument to change; a partial or corrupt download never stays where it would be trusted.
"""

from __future__ import annotations

import hashlib
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from attnlab.errors import ConfigError

CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60.0


def md5_of(path: Path) -> str:
    """Hex MD5 of a file, read in chunks (archives are hundreds of MB)."""
    digest = hashlib.md5()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url: str, destination: Path, md5: str) -> None:
    """Download ``url`` to ``destination`` unless a file with checksum ``md5`` is already there.

    The bytes go to a ``.part`` file that is renamed only after the checksum matched.
    """
    if destination.is_file() and md5_of(destination) == md5:
        return
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"data.data_dir: cannot create {destination.parent}: {error.strerror}") from None
    partial = destination.with_name(destination.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, partial.open("wb") as sink:
            _copy_with_progress(response, sink, int(response.headers.get("Content-Length") or 0), destination.name)
    except (urllib.error.URLError, OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise ConfigError(f"data.mirror: cannot download {url}: {reason}; valid: a reachable http(s) mirror") from None
    actual = md5_of(partial)
    if actual != md5:
        partial.unlink()
        raise ConfigError(
            f"data.mirror: {url} has MD5 {actual}, expected {md5} (corrupt or not the official archive); "
            "valid: a mirror serving the official file"
        )
    partial.replace(destination)


def _copy_with_progress(response: IO[bytes], sink: IO[bytes], total: int, label: str) -> None:
    columns = (TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(label, total=total or None)
        while chunk := response.read(CHUNK_BYTES):
            sink.write(chunk)
            progress.advance(task, len(chunk))


def extract(archive: Path, into: Path) -> None:
    """Unpack a .tar.gz into ``into``, refusing members that would land outside it."""
    try:
        with tarfile.open(archive, "r:gz") as bundle:
            bundle.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise ConfigError(f"data.data_dir: cannot extract {archive}: {error}; delete it and download again") from None
