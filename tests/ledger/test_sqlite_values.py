"""The SQLite values of usage rows are what SQLAlchemy's bind processors would store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from headstart.ledger.db import create_ledger_engine
from headstart.ledger.models import UsageRecord
from headstart.ledger.sqlite_values import json_text, to_nanos, utc_text

SAMPLES: list[tuple[str, Callable[[Any], Any], Any]] = [
    ("timestamp", utc_text, datetime(2026, 11, 2, 10, 0, tzinfo=UTC)),  # no microseconds
    ("timestamp", utc_text, datetime(2026, 11, 2, 10, 0, 0, 1, tzinfo=UTC)),
    (
        "timestamp",
        utc_text,
        datetime(2026, 11, 2, 23, 30, 5, 123456, tzinfo=timezone(timedelta(hours=-5))),
    ),
    ("timestamp", utc_text, datetime(2026, 11, 3, 0, 15, tzinfo=timezone(timedelta(hours=2)))),
    ("timestamp", utc_text, datetime(2026, 11, 2, 10, 0, 7, 250000)),  # naive: taken as UTC
    ("timestamp", utc_text, datetime(987, 1, 2, 3, 4, 5, tzinfo=UTC)),  # a three-digit year
    ("ingested_at", utc_text, None),
    ("computed_cost", to_nanos, Decimal("0.0000000025")),  # half a nano-dollar: to even, 2
    ("computed_cost", to_nanos, Decimal("0.0000000035")),  # to even, 4
    ("computed_cost", to_nanos, Decimal("12.345678901")),
    ("reported_cost", to_nanos, Decimal(0)),
    ("reported_cost", to_nanos, None),
    ("attributes", json_text, {}),
    ("attributes", json_text, {"cwd": "/home/dev/app", "is_sidechain": False, "calls": ["a"]}),
    ("attributes", json_text, {"note": "ünïcode ✓", 1: "non-string key"}),
]


@pytest.fixture(scope="module")
def dialect(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("dialect") / "ledger.sqlite3"
    return create_ledger_engine(f"sqlite:///{path}").dialect


@pytest.mark.parametrize(("column", "convert", "value"), SAMPLES)
def test_value_is_what_sqlalchemy_binds(
    dialect: Any, column: str, convert: Callable[[Any], Any], value: Any
) -> None:
    column_type = UsageRecord.__table__.c[column].type
    process = column_type.dialect_impl(dialect).bind_processor(dialect)

    expected = process(value)
    got = convert(value)

    assert got == expected
    assert type(got) is type(expected)


def test_booleans_bind_as_sqlalchemy_binds_them(dialect: Any) -> None:
    process = UsageRecord.__table__.c.priced.type.dialect_impl(dialect).bind_processor(dialect)

    # UsageRows passes the bool itself; Python's sqlite3 stores it as this integer.
    assert [process(True), process(False)] == [int(True), int(False)] == [1, 0]
