"""Read a SQLite ledger's checkpoints without SQLAlchemy, and tell when nothing changed.

An ingest run on a schedule often finds no log changed since the last run. Importing
SQLAlchemy, the ORM models and the log parsers took 0.45 s of the 0.5 s such a run needed on
the 200 MB benchmark tree. So the checkpoints table is read with the standard library's
sqlite3, and the stat of each file decides. `count_unchanged` returns a count only when every
file matches its checkpoint exactly (same inode, size and modification time) and the ledger is
a SQLite file at the current schema with all its indexes. In any other case it returns None
and the full ingest runs, which reports the same for unchanged files. That ingest starts
parsing from the checkpoints read here (`reading`), before it loads SQLAlchemy.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from headstart.ledger.migrations import SCHEMA_REVISION

# Every index of usage_records, which a killed first ingest may have left dropped
# (`headstart.ledger.bulk_load`); the full ingest builds them again.
USAGE_INDEXES = (
    "ix_usage_records_ingested_at",
    "ix_usage_records_session",
    "ix_usage_records_timestamp",
    "ix_usage_records_tool_model",
    "ix_usage_records_unpriced",
)

_SQLITE_PREFIX = "sqlite:///"


def sqlite_path(url: str) -> Path | None:
    """Return the file of a plain `sqlite:///PATH` URL, or None for any other URL."""
    if not url.startswith(_SQLITE_PREFIX) or "?" in url:
        return None
    database = url[len(_SQLITE_PREFIX) :]
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


class StoredCheckpoint(NamedTuple):
    """A checkpoint row as `sources.cursors.open_cursor` reads it."""

    path: str
    reader: str
    device: int
    inode: int
    size: int
    mtime_ns: int
    offset: int
    head_digest: str
    state: dict[str, Any]


@dataclass
class StoredCheckpoints:
    """The checkpoints of a SQLite ledger, read without SQLAlchemy, and whether it is indexed."""

    rows: dict[str, StoredCheckpoint]
    # Every usage index is present: a killed first ingest may have left some dropped.
    indexed: bool

    def count_unchanged(self, files: Sequence[tuple[str, Path]]) -> int | None:
        """Return how many of `files` (reader, path) are unchanged when all are, else None."""
        if not files or not self.indexed:
            return None
        for reader, path in files:
            stored = self.rows.get(str(path))
            if stored is None or stored.reader != reader:
                return None
            try:
                stat = os.stat(path)
            except OSError:
                return None
            same = (stored.device, stored.inode, stored.size, stored.mtime_ns)
            if (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns) != same:
                return None
        return len(files)


def read_checkpoints(url: str, files: Sequence[tuple[str, Path]]) -> StoredCheckpoints | None:
    """Return the stored checkpoints of `files` in the ledger at `url`.

    None when that cannot be done without SQLAlchemy: the URL is not a plain SQLite file, or
    the file has another schema revision (which the ledger migrates when it opens) or is not
    a ledger. A missing or empty file has no checkpoints yet.
    """
    database = sqlite_path(url)
    if database is None:
        return None
    if not database.exists():
        return StoredCheckpoints({}, indexed=False)

    try:
        # Only read from: a read-only open of a WAL database fails when its -shm file is gone.
        connection = sqlite3.connect(database, timeout=30)
    except sqlite3.Error:
        return None
    try:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if not names:
            return StoredCheckpoints({}, indexed=False)
        if not _current_schema(connection, names):
            return None
        rows = _checkpoints(connection, [str(path) for _, path in files])
    except (sqlite3.Error, ValueError):
        return None
    finally:
        connection.close()
    return StoredCheckpoints(rows, indexed=set(USAGE_INDEXES) <= names)


def count_unchanged(url: str, files: Sequence[tuple[str, Path]]) -> int | None:
    """Return how many of `files` (reader, path) are unchanged when all are, else None."""
    stored = read_checkpoints(url, files) if files else None
    return stored.count_unchanged(files) if stored is not None else None


def _current_schema(connection: sqlite3.Connection, names: set[str]) -> bool:
    if "alembic_version" not in names or "ingest_checkpoints" not in names:
        return False
    revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return revision == (SCHEMA_REVISION,)


def _checkpoints(connection: sqlite3.Connection, paths: list[str]) -> dict[str, StoredCheckpoint]:
    found: dict[str, StoredCheckpoint] = {}
    # Chunks stay below SQLite's limit on bound parameters.
    for start in range(0, len(paths), 500):
        chunk = paths[start : start + 500]
        placeholders = ",".join("?" * len(chunk))
        rows = connection.execute(
            "SELECT path, reader, device, inode, size, mtime_ns, offset, head_digest, state "
            f"FROM ingest_checkpoints WHERE path IN ({placeholders})",
            chunk,
        )
        for *columns, state in rows:
            # The JSON column as SQLAlchemy stores it on SQLite: text, or NULL for none.
            parsed = json.loads(state) if state is not None else {}
            found[columns[0]] = StoredCheckpoint(*columns, parsed if parsed is not None else {})
    return found
