"""Load and save the checkpoints that record how far each log file was read (`cursors`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from headstart.ledger.models import IngestCheckpoint, utcnow
from headstart.ledger.sources.cursors import HEAD_BYTES, FileCursor, head_digest
from headstart.ledger.store import insert_for


def load_checkpoints(session: Session, paths: list[Path]) -> dict[str, Any]:
    """Return the stored checkpoints of `paths`, read in a few queries rather than one per file.

    Each is a row with the columns of `IngestCheckpoint` as attributes. Plain rows, not ORM
    objects: with those, a re-ingest that found nothing new spent 8% of its time here.
    """
    table = IngestCheckpoint.__table__
    names = [str(path) for path in paths]
    found: dict[str, Any] = {}
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        rows = session.execute(select(table).where(table.c.path.in_(chunk)))
        found.update({row.path: row for row in rows})
    return found


def save_cursors(session: Session, cursors: list[FileCursor]) -> None:
    """Store the cursors; call it only after the events read up to their offsets are committed."""
    if not cursors:
        return
    rows = []
    for cursor in cursors:
        head_length = min(HEAD_BYTES, cursor.offset)
        rows.append(
            {
                "path": str(cursor.path),
                "reader": cursor.reader,
                "device": cursor.stat.st_dev,
                "inode": cursor.stat.st_ino,
                "size": cursor.stat.st_size,
                "mtime_ns": cursor.stat.st_mtime_ns,
                "offset": cursor.offset,
                "head_digest": head_digest(cursor.path, head_length),
                "state": cursor.state,
                "updated_at": utcnow(),
            }
        )
    statement = insert_for(session, IngestCheckpoint.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["path"],
        set_={name: statement.excluded[name] for name in rows[0] if name != "path"},
    )
    session.execute(statement, rows)
