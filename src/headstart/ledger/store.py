"""Dialect-aware upserts shared by the ledger's writers (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session


def insert_for(session: Session, table: Table) -> Any:
    """Return an INSERT that supports ON CONFLICT on the session's dialect."""
    # Imported here: each dialect's package takes 5 to 20 ms to import, and a run uses one.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def ensure_rows(
    session: Session, table: Table, key_column: str, rows: list[dict[str, Any]]
) -> dict[Any, int]:
    """Insert rows whose key is new (ON CONFLICT DO NOTHING) and return key → id for all of them.

    Safe under concurrent writers: a row another process inserted first is simply read back.
    """
    if not rows:
        return {}
    statement = insert_for(session, table).on_conflict_do_nothing(index_elements=[key_column])
    session.execute(statement, rows)

    keys = [row[key_column] for row in rows]
    key = table.c[key_column]
    found = session.execute(select(key, table.c.id).where(key.in_(keys)))
    return {row[0]: row[1] for row in found}
