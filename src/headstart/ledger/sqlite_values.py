"""Values of usage rows as SQLAlchemy stores them in SQLite, computed without its processors.

A first ingest writes tens of thousands of rows, and SQLAlchemy's bind processors, called per
value, took a third of the time of the INSERT they fed. `usage_rows` builds SQLite's values
with these functions instead. tests/ledger/test_sqlite_values.py checks that each gives what
the column type's own processor gives.
"""

from __future__ import annotations

from datetime import UTC, datetime

from headstart.ledger.db import json_text
from headstart.ledger.models import to_nanos

__all__ = ["json_text", "to_nanos", "utc_text"]


def utc_text(value: datetime | None) -> str | None:
    """Return `value` in UTC as SQLAlchemy's SQLite DATETIME stores it: always with microseconds.

    A naive value is taken as UTC, as `models.UTCDateTime` takes it.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # Without its "+00:00".
    return value.isoformat(" ", "microseconds")[:-6]
