"""Usage summed per UTC day and session, kept current with `usage_records`, and read by reports.

`refresh_daily` rebuilds the days of `usage_daily` whose requests were written or merged since
its last run, found by `usage_records.ingested_at`. An ingest that commits up to `MARGIN` after
it stamped its rows is still caught: each run looks that far back again. The first run builds
every day, which takes a few seconds on a million requests (see docs/benchmarks.md).

`usage_source` gives reports one relation over a period: whole days from `usage_daily` and the
partial days at the period's edges straight from `usage_records`, so figures are exact to the
instant while most rows come pre-summed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Engine,
    Select,
    and_,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from headstart.ledger.db import _migration_transaction
from headstart.ledger.models import NANOS_PER_USD, RollupState, UsageDaily, UsageRecord
from headstart.ledger.reports.query import ReportQuery
from headstart.ledger.reports.sql import group_filters, token_sum

logger = logging.getLogger("headstart.ledger.reports.rollup")

STATE = "usage_daily"
MARGIN = timedelta(minutes=5)
# Any constant works, as long as every Headstart refreshing this database uses the same one.
PG_ROLLUP_LOCK = 0x4853_5244
DAY_CHUNK = 200

GROUP_COLUMNS = ("session_id", "team_id", "engineer_id", "tool", "model", "repository")


def usage_day(session: Session) -> Any:
    """Build the UTC day of a usage record's timestamp, as 'YYYY-MM-DD'."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", UsageRecord.timestamp), "YYYY-MM-DD")
    # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC.
    return func.substr(UsageRecord.timestamp, 1, 10)


def _aggregate(session: Session) -> Select[Any]:
    day = usage_day(session).label("day")
    columns = [getattr(UsageRecord, name) for name in GROUP_COLUMNS]
    return select(
        day,
        *columns,
        func.count().label("requests"),
        func.sum(token_sum()).label("tokens"),
        # An unpriced request has no cost; a day of only such requests still sums to zero.
        func.coalesce(func.sum(cast(UsageRecord.__table__.c.computed_cost, BigInteger)), 0).label("cost"),
    ).group_by(day, *columns)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _is_current(latest: datetime | None, stored: datetime | None, now: datetime) -> bool:
    """Tell whether nothing was written since the last rebuild, allowing for late commits."""
    if latest is None:
        return True
    return stored == latest and now - latest > MARGIN


def ensure_daily(session: Session, *, now: datetime | None = None) -> int:
    """Bring `usage_daily` up to date before a report reads it; return the days rebuilt.

    Call it before the report's first query. The check reads on a connection of its own, and a
    rebuild runs in a write transaction of its own that concurrent reports wait for (BEGIN
    IMMEDIATE on SQLite, an advisory lock on PostgreSQL), so the report's session starts reading
    after the rebuild committed and two reports never rebuild the same days at once.
    """
    now = now or datetime.now(UTC)
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        return refresh_daily(session, now=now)

    with bind.connect() as connection:
        stored = connection.execute(
            select(RollupState.latest).where(RollupState.name == STATE)
        ).scalar()
        latest = connection.execute(select(func.max(UsageRecord.ingested_at))).scalar()
    if _is_current(latest, stored, now):
        return 0

    # The same serialized write transaction that migrations use.
    with _migration_transaction(bind) as connection, Session(bind=connection) as writer:
        rebuilt = refresh_daily(writer, now=now)
        writer.commit()
    return rebuilt


def refresh_daily(session: Session, *, now: datetime | None = None) -> int:
    """Bring `usage_daily` up to date in `session`'s transaction; return the days rebuilt.

    Reports call `ensure_daily`; this is for a session that already writes (the analysis).
    """
    now = now or datetime.now(UTC)
    if session.get_bind().dialect.name == "postgresql":
        # Concurrent reports would otherwise rebuild the same days twice.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_ROLLUP_LOCK})

    state = session.get(RollupState, STATE)
    latest = session.scalar(select(func.max(UsageRecord.ingested_at)))
    if latest is None:
        return 0
    latest = latest.replace(tzinfo=UTC) if latest.tzinfo is None else latest
    if state is not None and _is_current(latest, state.latest, now):
        return 0

    day = usage_day(session)
    if state is None or state.watermark is None:
        session.execute(delete(UsageDaily))
        session.execute(
            insert(UsageDaily).from_select(
                ["day", *GROUP_COLUMNS, "requests", "tokens", "cost"], _aggregate(session)
            )
        )
        rebuilt = session.scalar(select(func.count(func.distinct(UsageDaily.day)))) or 0
    else:
        days = sorted(
            session.scalars(select(day).where(UsageRecord.ingested_at > state.watermark).distinct())
        )
        for start in range(0, len(days), DAY_CHUNK):
            chunk = days[start : start + DAY_CHUNK]
            first = _start_of(date.fromisoformat(chunk[0]))
            last = _start_of(date.fromisoformat(chunk[-1])) + timedelta(days=1)
            session.execute(delete(UsageDaily).where(UsageDaily.day.in_(chunk)))
            statement = _aggregate(session).where(
                UsageRecord.timestamp >= first, UsageRecord.timestamp < last, day.in_(chunk)
            )
            session.execute(
                insert(UsageDaily).from_select(
                    ["day", *GROUP_COLUMNS, "requests", "tokens", "cost"], statement
                )
            )
        rebuilt = len(days)

    if state is None:
        state = RollupState(name=STATE)
        session.add(state)
    state.latest = latest
    state.watermark = latest - MARGIN
    session.flush()
    if rebuilt:
        logger.info("rebuilt %d days of daily usage", rebuilt)
    return rebuilt


@dataclass(frozen=True)
class DaySplit:
    """A period as whole UTC days [full_from, full_to) plus partial-day edges."""

    full_from: str | None
    full_to: str | None
    edges: list[tuple[datetime | None, datetime | None]]
    empty: bool = False


def split_days(start: datetime | None, end: datetime | None) -> DaySplit:
    full_from = full_to = None
    edges: list[tuple[datetime | None, datetime | None]] = []
    if start is not None:
        start = start.astimezone(UTC)
        first = start.date() if start.time() == time() else start.date() + timedelta(days=1)
        full_from = first.isoformat()
    if end is not None:
        end = end.astimezone(UTC)
        full_to = end.date().isoformat()
    if start is not None and end is not None and full_from >= full_to:
        # The whole period lies inside partial days.
        return DaySplit(None, None, [(start, end)], empty=start >= end)
    if start is not None and start.time() != time():
        edges.append((start, _start_of(date.fromisoformat(full_from))))
    if end is not None and end.time() != time():
        edges.append((_start_of(end.date()), end))
    return DaySplit(full_from, full_to, edges)


def usage_source(session: Session, query: ReportQuery) -> Any:
    """Return a subquery of usage summed per day and group for the query's period and filters.

    Columns: day ('YYYY-MM-DD'), session_id, team_id, engineer_id, tool, model, repository,
    requests, tokens, cost (whole nano-dollars; see `nanos_to_usd`). Call `refresh_daily` first.
    """
    split = split_days(query.start, query.end)
    conditions = group_filters(session, query)

    daily = select(
        UsageDaily.day,
        *[getattr(UsageDaily, name) for name in GROUP_COLUMNS],
        UsageDaily.requests,
        UsageDaily.tokens,
        UsageDaily.cost,
    )
    if split.empty or (split.full_from is None and split.full_to is None and split.edges):
        daily = daily.where(literal(False))
    if split.full_from is not None:
        daily = daily.where(UsageDaily.day >= split.full_from)
    if split.full_to is not None:
        daily = daily.where(UsageDaily.day < split.full_to)
    parts = [daily.where(*conditions(UsageDaily))]

    if split.edges and not split.empty:
        ranges = []
        for first, last in split.edges:
            condition = []
            if first is not None:
                condition.append(UsageRecord.timestamp >= first)
            if last is not None:
                condition.append(UsageRecord.timestamp < last)
            ranges.append(and_(*condition))
        parts.append(_aggregate(session).where(or_(*ranges), *conditions(UsageRecord)))

    if len(parts) == 1:
        return parts[0].subquery("usage")
    return parts[0].union_all(parts[1]).subquery("usage")


def nanos_to_usd(value: Any) -> Decimal:
    """Convert a summed cost column of `usage_source` to USD."""
    return Decimal(int(value or 0)) / NANOS_PER_USD
