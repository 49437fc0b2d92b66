"""Fill an empty SQLite ledger without keeping its secondary indexes up to date row by row.

A first ingest of months of logs inserts tens of thousands of usage rows. Each insert also
updates the four indexes that only reports read (time, tool and model, session, ingest time).
Building those indexes once at the end, over the finished table, is cheaper than updating
them row by row. The unique indexes stay: inserts need them to skip requests already stored.

PostgreSQL is left alone: dropping an index there locks the table against the server's own
writers, and a server's ledger is rarely empty when a large ingest starts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Index, select

from headstart.ledger.db import Ledger
from headstart.ledger.models import UsageRecord

logger = logging.getLogger("headstart.ledger.bulk_load")

# Reading less than this is not worth dropping and building the indexes for. The 200 MB
# benchmark tree contains 42,000 requests, so this is roughly 5,000 requests.
MIN_BYTES = 25_000_000


def secondary_indexes() -> list[Index]:
    """Return the indexes of usage rows that inserts do not need: the non-unique ones."""
    return sorted(
        (index for index in UsageRecord.__table__.indexes if not index.unique),
        key=lambda index: str(index.name),
    )


def _existing_names(connection: Connection) -> set[str]:
    rows = connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
        (UsageRecord.__tablename__,),
    )
    return {row[0] for row in rows}


def _create_missing(connection: Connection) -> list[str]:
    existing = _existing_names(connection)
    missing = [index for index in secondary_indexes() if index.name not in existing]
    for index in missing:
        index.create(connection)
    return [str(index.name) for index in missing]


@contextmanager
def deferred_indexes(ledger: Ledger, read_bytes: int) -> Iterator[bool]:
    """Drop the secondary indexes while a large ingest fills an empty SQLite ledger.

    Yields whether they were dropped. They are built again on the way out, also when the
    ingest fails. An ingest killed before then leaves them missing, and the next ingest of
    any size builds them before it writes.
    """
    if ledger.dialect != "sqlite":
        yield False
        return

    with ledger.engine.begin() as connection:
        empty = connection.execute(select(UsageRecord.id).limit(1)).first() is None
        deferred = empty and read_bytes >= MIN_BYTES
        if deferred:
            existing = _existing_names(connection)
            for index in secondary_indexes():
                if index.name in existing:
                    index.drop(connection)
        else:
            built = _create_missing(connection)
            if built:
                logger.info(
                    "built the usage indexes an interrupted ingest left out: %s", ", ".join(built)
                )

    try:
        yield deferred
    finally:
        if deferred:
            with ledger.engine.begin() as connection:
                _create_missing(connection)
