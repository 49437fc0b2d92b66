"""Cursors: the position to resume each log file at, from its stat and its stored checkpoint.

A file is known by its path, device and inode, size, modification time, and a digest of its
first bytes. An unchanged file is not opened at all. A grown file is read from the end of the
last complete record. A file whose first bytes changed, or that shrank, was replaced: it is
read again from the start, and dedup keys keep that from counting anything twice.

This module needs no database library, so an ingest can start parsing before it loads one;
`files` loads and saves the checkpoints.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEAD_BYTES = 1024


@dataclass
class FileCursor:
    """The position to resume reading one file at, and the reader's state there."""

    path: Path
    reader: str
    stat: os.stat_result
    offset: int = 0
    state: dict[str, Any] = field(default_factory=dict)
    unchanged: bool = False


def head_digest(path: Path, length: int) -> str:
    with path.open("rb") as handle:
        return hashlib.sha256(handle.read(length)).hexdigest()


def open_cursor(path: Path, reader: str, checkpoint: Any | None) -> FileCursor:
    """Return where to resume `path`; `cursor.unchanged` is set when nothing was added."""
    stat = path.stat()
    if checkpoint is None or checkpoint.reader != reader:
        return FileCursor(path, reader, stat)

    same_file = (checkpoint.device, checkpoint.inode) == (stat.st_dev, stat.st_ino)
    if same_file and stat.st_size == checkpoint.size and stat.st_mtime_ns == checkpoint.mtime_ns:
        return FileCursor(
            path, reader, stat, checkpoint.offset, dict(checkpoint.state), unchanged=True
        )

    head_length = min(HEAD_BYTES, checkpoint.offset)
    if (
        stat.st_size >= checkpoint.offset
        and head_digest(path, head_length) == checkpoint.head_digest
    ):
        # Touched but not grown: nothing to read, but the new mtime is worth remembering.
        touched = same_file and stat.st_size == checkpoint.offset
        return FileCursor(
            path, reader, stat, checkpoint.offset, dict(checkpoint.state), unchanged=touched
        )

    # Replaced or truncated: start over; dedup keys absorb what was already recorded.
    return FileCursor(path, reader, stat)
