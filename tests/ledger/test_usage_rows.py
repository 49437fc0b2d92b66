"""A usage row as SQLite values stores what the same row as a dict stores through SQLAlchemy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from headstart.ledger.db import create_ledger_engine
from headstart.ledger.events import UsageEvent
from headstart.ledger.models import UsageRecord
from headstart.ledger.pricing import PriceBook
from headstart.ledger.usage_rows import ROW_COLUMNS, UsageRows

from .helpers import usage_event


def event(**changes: Any) -> UsageEvent:
    return usage_event(**{"engineer": " Dev@Example.com ", "cwd": "/home/dev/app", **changes})


EVENTS = [
    event(),
    event(
        dedup_key="otlp:b",
        source="otlp",
        reported_cost_usd=Decimal("0.123456789"),
        timestamp=datetime(2026, 11, 2, 23, 0, tzinfo=timezone(timedelta(hours=-3))),
        model="claude-opus-9",  # unpriced: NULL cost and a note
        session_id=None,
        engineer=None,
        cwd=None,
        attributes={},
    ),
    event(dedup_key="c", model="test-sonnet-20260101", team="platform", organization="org-1"),
]


@pytest.fixture
def rows() -> UsageRows:
    return UsageRows(
        engineer_ids={"dev@example.com": 7},
        team_ids={"platform": 3},
        team_names={"c": "platform"},
        session_ids={("claude_code", "s-1"): 11},
        now=datetime(2026, 11, 5, 8, 0, tzinfo=UTC),
    )


def test_columns_are_the_table_s_but_its_id() -> None:
    table_columns = [column.name for column in UsageRecord.__table__.columns if column.name != "id"]

    assert sorted(ROW_COLUMNS) == sorted(table_columns)


@pytest.mark.parametrize("index", range(len(EVENTS)))
def test_sqlite_values_match_sqlalchemy(
    tmp_path: Path, rows: UsageRows, prices: PriceBook, index: int
) -> None:
    dialect = create_ledger_engine(f"sqlite:///{tmp_path / 'ledger.sqlite3'}").dialect
    table = UsageRecord.__table__
    usage = EVENTS[index]
    result = prices.price(usage)

    row = rows.row(usage, result)
    expected = []
    for name in ROW_COLUMNS:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        expected.append(process(row[name]) if process else row[name])

    assert rows.sqlite_values(usage, result) == tuple(expected)
    assert list(row) == list(ROW_COLUMNS)


def test_row_attributes_and_ids(rows: UsageRows, prices: PriceBook) -> None:
    first, unpriced, dated = (rows.row(usage, prices.price(usage)) for usage in EVENTS)

    assert (first["session_id"], first["engineer_id"], first["team_id"]) == (11, 7, None)
    assert first["attributes"]["cwd"] == "/home/dev/app"
    assert (unpriced["computed_cost"], unpriced["priced"]) == (None, False)
    assert unpriced["pricing_note"] and "claude-opus-9" in unpriced["pricing_note"]
    assert dated["team_id"] == 3
    assert dated["computed_cost"] == first["computed_cost"]  # the date suffix names the same model
