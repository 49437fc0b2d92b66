from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from headstart.ledger.db import (
    SCHEMA_REVISION,
    current_revision,
    head_revision,
    migrate,
    open_ledger,
)
from headstart.ledger.errors import LedgerError, LedgerInputError


def test_open_creates_schema(ledger) -> None:
    tables = set(inspect(ledger.engine).get_table_names())

    for table in (
        "tasks",
        "agent_sessions",
        "usage_records",
        "brief_deliveries",
        "engineers",
        "teams",
    ):
        assert table in tables
    assert current_revision(ledger.engine) == head_revision()


def test_migrate_twice_is_noop(ledger) -> None:
    before, after = migrate(ledger.engine)

    assert before == after == head_revision()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'nested' / 'ledger.sqlite3'}")
    with ledger.engine.connect() as connection:
        mode = connection.execute(text("PRAGMA journal_mode")).scalar()
    ledger.close()

    assert mode == "wal"
    assert (tmp_path / "nested" / "ledger.sqlite3").exists()


def test_unknown_revision_rejected(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    ledger = open_ledger(url)
    with ledger.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    ledger.close()

    with pytest.raises(LedgerError, match="'9999'"):
        open_ledger(url)


def test_unsupported_url_rejected() -> None:
    with pytest.raises(LedgerInputError, match="mysql"):
        open_ledger("mysql://localhost/ledger")


def test_schema_revision_is_head() -> None:
    assert SCHEMA_REVISION == head_revision()
