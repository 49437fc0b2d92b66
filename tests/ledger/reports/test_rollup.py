"""The daily rollup behind the spend reports: exact at partial days, current after new usage."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from headstart.ledger.events import UsageEvent
from headstart.ledger.ingest import record_events
from headstart.ledger.models import UsageDaily, UsageRecord
from headstart.ledger.reports import ReportQuery, spend_report
from headstart.ledger.reports.rollup import split_days

DAY = datetime(2024, 5, 6, tzinfo=UTC)


def _event(number: int, when: datetime, tokens: int = 1_000_000) -> UsageEvent:
    return UsageEvent(
        source="test",
        dedup_key=f"rollup:{number}",
        tool="claude_code",
        timestamp=when,
        model="test-sonnet",
        session_id="r1",
        input_tokens=tokens,
        engineer="ada@example.com",
        team="platform",
    )


def test_split_days() -> None:
    noon = DAY + timedelta(hours=12)
    assert split_days(DAY, DAY + timedelta(days=2)).edges == []
    split = split_days(noon, noon + timedelta(days=2))
    assert (split.full_from, split.full_to) == ("2024-05-07", "2024-05-08")
    assert split.edges == [
        (noon, DAY + timedelta(days=1)),
        (DAY + timedelta(days=2), noon + timedelta(days=2)),
    ]
    assert split_days(noon, noon + timedelta(hours=1)).edges == [(noon, noon + timedelta(hours=1))]


def test_reports_see_new_usage_and_partial_days(ledger, prices) -> None:
    record_events(
        ledger,
        [_event(1, DAY + timedelta(hours=9)), _event(2, DAY + timedelta(hours=15))],
        prices=prices,
    )
    whole = ReportQuery(start=DAY, end=DAY + timedelta(days=1))
    afternoon = ReportQuery(start=DAY + timedelta(hours=12), end=DAY + timedelta(days=1))

    with ledger.session() as session:
        first = spend_report(session, whole).cost
        partial = spend_report(session, afternoon).cost
    record_events(ledger, [_event(3, DAY + timedelta(hours=16), 2_000_000)], prices=prices)
    with ledger.session() as session:
        second = spend_report(session, whole).cost
        days = session.scalar(select(func.count()).select_from(UsageDaily))

    assert (first, partial, second) == (Decimal(6), Decimal(3), Decimal(12))
    assert days == 1


def test_concurrent_reports_rebuild_once(ledger, prices) -> None:
    record_events(
        ledger,
        [_event(number, DAY + timedelta(hours=number)) for number in range(6)],
        prices=prices,
    )
    whole = ReportQuery(start=DAY, end=DAY + timedelta(days=1))

    def report() -> Decimal:
        with ledger.session() as session:
            return spend_report(session, whole).cost

    with ThreadPoolExecutor(max_workers=4) as pool:
        costs = list(pool.map(lambda _: report(), range(4)))

    assert costs == [Decimal(18)] * 4
    with ledger.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageDaily)) == 1


def test_unpriced_day_rolls_up(ledger, prices) -> None:
    # A model missing from the price table is recorded unpriced. A day of only such requests
    # must still roll up with no cost, so that no report fails on it.
    unknown = _event(10, DAY + timedelta(hours=9)).model_copy(update={"model": "claude-futuremodel-9"})
    priced = _event(11, DAY + timedelta(days=1, hours=9))
    record_events(ledger, [unknown, priced], prices=prices)

    with ledger.session() as session:
        report = spend_report(session, ReportQuery(start=DAY, end=DAY + timedelta(days=2)))
        priced_flags = session.scalars(select(UsageRecord.priced).order_by(UsageRecord.timestamp)).all()
        priced_cost = session.scalar(select(UsageRecord.computed_cost).where(UsageRecord.priced))

    assert priced_flags == [False, True]
    assert report.requests == 2
    assert report.cost == priced_cost > 0
