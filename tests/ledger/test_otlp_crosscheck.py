"""Counter cross-check totals from delta and cumulative points, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from headstart.ledger.crosscheck import (
    CrossCheckTotal,
    compare_with_events,
    crosscheck_totals,
    record_points,
)
from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.events import UsageEvent
from headstart.ledger.ingest import record_events
from headstart.ledger.otlp import CounterPoint
from headstart.ledger.pricing import PriceBook
from headstart.ledger.teams import TeamMap

POSTGRES_URL = os.environ.get(
    "HEADSTART_TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test"
)

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _postgres_ledger() -> Iterator[Ledger]:
    """Open a ledger in a schema of its own, so parallel test runs share the database safely."""
    schema = f"hs_otlp_{uuid.uuid4().hex[:12]}"
    plain_url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")

    separator = "&" if "?" in POSTGRES_URL else "?"
    ledger = open_ledger(f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}")
    try:
        yield ledger
    finally:
        ledger.close()
        with psycopg.connect(plain_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        opened = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
        yield opened
        opened.close()
        return

    for opened in _postgres_ledger():
        yield opened


def point(
    value: str | int,
    *,
    minutes: int,
    temporality: str = "cumulative",
    token_type: str | None = "input",
    metric: str = "claude_code.token.usage",
    tool: str = "claude_code",
    start_minutes: int = 0,
    series: str = "series-a",
) -> CounterPoint:
    return CounterPoint(
        tool=tool,
        metric=metric,
        token_type=token_type,
        session_id="sess-1",
        model="claude-sonnet-4-5",
        series_key=series,
        temporality=temporality,  # type: ignore[arg-type]
        start_time=T0 + timedelta(minutes=start_minutes),
        time=T0 + timedelta(minutes=minutes),
        value=Decimal(value),
    )


def totals(ledger: Ledger) -> list[CrossCheckTotal]:
    with ledger.session() as session:
        return crosscheck_totals(session)


def record(ledger: Ledger, points: list[CounterPoint]) -> None:
    with ledger.session() as session:
        record_points(session, points)


def test_delta_points_summed(ledger: Ledger) -> None:
    record(
        ledger,
        [point(100, minutes=1, temporality="delta"), point(40, minutes=2, temporality="delta")],
    )

    assert totals(ledger)[0].input_tokens == 140


def test_delta_point_twice_counts_once(ledger: Ledger) -> None:
    record(ledger, [point(100, minutes=1, temporality="delta")])
    with ledger.session() as session:
        report = record_points(session, [point(100, minutes=1, temporality="delta")])

    assert report.duplicates == 1
    assert report.stored == 0
    assert totals(ledger)[0].input_tokens == 100


def test_cumulative_takes_growth(ledger: Ledger) -> None:
    # Like Codex's running totals: 1000, the same 1000 again, then 3300 means 3300, not 5300.
    record(ledger, [point(1000, minutes=1), point(1000, minutes=1), point(3300, minutes=2)])

    assert totals(ledger)[0].input_tokens == 3300


def test_cumulative_across_batches(ledger: Ledger) -> None:
    record(ledger, [point(1000, minutes=1)])
    record(ledger, [point(1000, minutes=1)])
    record(ledger, [point(3300, minutes=2)])

    assert totals(ledger)[0].input_tokens == 3300


def test_cumulative_restart_new_start_time(ledger: Ledger) -> None:
    record(ledger, [point(500, minutes=1), point(800, minutes=2)])
    with ledger.session() as session:
        report = record_points(session, [point(120, minutes=5, start_minutes=4)])

    assert report.resets == 1
    assert totals(ledger)[0].input_tokens == 920


def test_cumulative_drop_is_reset(ledger: Ledger) -> None:
    # Some exporters keep the start time after a restart; a lower total still means a new count.
    record(ledger, [point(500, minutes=1), point(30, minutes=2), point(70, minutes=3)])

    assert totals(ledger)[0].input_tokens == 570


def test_cumulative_late_point_ignored(ledger: Ledger) -> None:
    record(ledger, [point(500, minutes=1), point(120, minutes=5, start_minutes=4)])
    with ledger.session() as session:
        report = record_points(session, [point(700, minutes=3)])

    assert report.duplicates == 1
    assert totals(ledger)[0].input_tokens == 620


def test_cumulative_out_of_order_ignored(ledger: Ledger) -> None:
    # An older total arriving after a newer one is not a restart.
    record(ledger, [point(500, minutes=1), point(800, minutes=3)])
    record(ledger, [point(600, minutes=2)])

    assert totals(ledger)[0].input_tokens == 800


def test_cost_is_exact(ledger: Ledger) -> None:
    cost = {
        "metric": "claude_code.cost.usage",
        "token_type": None,
        "temporality": "delta",
        "series": "cost",
    }
    record(ledger, [point("0.1", minutes=1, **cost), point("0.2", minutes=2, **cost)])  # type: ignore[arg-type]

    assert totals(ledger)[0].cost_usd == Decimal("0.3")


def test_claude_code_types_mapped(ledger: Ledger) -> None:
    points = [
        point(3, minutes=1, token_type="input", series="in"),
        point(550, minutes=1, token_type="output", series="out"),
        point(80000, minutes=1, token_type="cacheRead", series="read"),
        point(12304, minutes=1, token_type="cacheCreation", series="write"),
    ]
    record(ledger, points)

    total = totals(ledger)[0]
    assert total.input_tokens == 3
    assert total.output_tokens == 550
    assert total.cache_read_tokens == 80000
    assert total.cache_write_tokens == 12304


def test_gemini_types_converted(ledger: Ledger) -> None:
    gemini = {"metric": "gemini_cli.token.usage", "tool": "gemini_cli", "temporality": "delta"}
    points = [
        point(29065, minutes=1, token_type="input", series="in", **gemini),  # type: ignore[arg-type]
        point(28634, minutes=1, token_type="cache", series="cache", **gemini),  # type: ignore[arg-type]
        point(40, minutes=1, token_type="output", series="out", **gemini),  # type: ignore[arg-type]
        point(60, minutes=1, token_type="thought", series="thought", **gemini),  # type: ignore[arg-type]
    ]
    record(ledger, points)

    total = totals(ledger)[0]
    assert total.tool == "gemini_cli"
    assert total.input_tokens == 431
    assert total.cache_read_tokens == 28634
    assert total.output_tokens == 100
    assert total.reasoning_tokens == 60


def test_totals_grouped_by_session(ledger: Ledger) -> None:
    other = point(7, minutes=1, temporality="delta", series="other")
    other.session_id = "sess-2"
    record(ledger, [point(5, minutes=1, temporality="delta"), other])

    with ledger.session() as session:
        only_second = crosscheck_totals(session, session_id="sess-2")

    assert [(total.session_id, total.input_tokens) for total in totals(ledger)] == [
        ("sess-1", 5),
        ("sess-2", 7),
    ]
    assert [total.input_tokens for total in only_second] == [7]


def claude_counters(input_tokens: int, output_tokens: int) -> list[CounterPoint]:
    return [
        point(input_tokens, minutes=1, temporality="delta", token_type="input", series="in"),
        point(output_tokens, minutes=1, temporality="delta", token_type="output", series="out"),
    ]


def test_compare_matching_events(ledger: Ledger, prices: PriceBook, teams: TeamMap) -> None:
    event = UsageEvent(
        source="otlp",
        dedup_key="claude_code:req:req_1",
        tool="claude_code",
        timestamp=T0,
        model="claude-sonnet-4-5",
        session_id="sess-1",
        input_tokens=3,
        output_tokens=550,
    )
    record_events(ledger, [event], prices=prices, teams=teams)
    record(ledger, claude_counters(3, 550))

    with ledger.session() as session:
        [comparison] = compare_with_events(session)

    assert comparison.session_id == "sess-1"
    assert comparison.events.output_tokens == 550
    assert comparison.differences == {}


def test_compare_missing_events(ledger: Ledger) -> None:
    record(ledger, claude_counters(10, 20))

    with ledger.session() as session:
        [comparison] = compare_with_events(session)

    assert comparison.events.input_tokens == 0
    assert comparison.differences == {"input_tokens": 10, "output_tokens": 20}
