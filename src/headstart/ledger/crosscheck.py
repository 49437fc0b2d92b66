"""Token and cost counters from OTLP metrics, kept as a cross-check of the per-request events.

Claude Code and Gemini CLI export running counters of tokens and cost next to their
per-request events. The ledger bills the events. The counters, summed per session and model,
show when events went missing. A counter arrives with one of two temporalities:

- **delta**: each point is the increase since the previous export, so the points are summed.
- **cumulative**: each point is the total since the counter's start time, so only the growth
  since the last point of the same series counts. A new start time, or a value lower than the
  last one, means the process restarted and the counter began again from zero.

Each stored point has a key (series and time), so a point received twice counts once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Index, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from headstart.ledger.models import AgentSession, Base, Money, UsageRecord, UTCDateTime, utcnow

if TYPE_CHECKING:
    # Only for annotations: the OTLP module imports protobuf, which a new ledger, made with
    # these tables, does not otherwise need.
    from headstart.ledger.otlp import CounterPoint

logger = logging.getLogger("headstart.ledger.crosscheck")

COST_METRICS = frozenset({"claude_code.cost.usage"})


class CounterSeries(Base):
    """The last point seen of one cumulative counter series, to turn totals into growth."""

    __tablename__ = "otlp_counter_series"

    series_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(200))
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_time: Mapped[datetime] = mapped_column(UTCDateTime())
    last_tokens: Mapped[int | None] = mapped_column(BigInteger)
    last_cost: Mapped[Decimal | None] = mapped_column(Money())


class CounterIncrement(Base):
    """Tokens or cost added to a counter between two exports: one row per received point."""

    __tablename__ = "otlp_counter_increments"
    __table_args__ = (Index("ix_otlp_counter_increments_session", "tool", "session_id", "model"),)

    point_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tool: Mapped[str] = mapped_column(String(50))
    metric: Mapped[str] = mapped_column(String(200))
    token_type: Mapped[str | None] = mapped_column(String(50))
    session_id: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    engineer: Mapped[str | None] = mapped_column(String(320))
    team: Mapped[str | None] = mapped_column(String(200))
    organization: Mapped[str | None] = mapped_column(String(200))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    tokens: Mapped[int | None] = mapped_column(BigInteger)
    cost: Mapped[Decimal | None] = mapped_column(Money())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CrossCheckReport(BaseModel):
    """Counts from one `record_points` call."""

    stored: int = 0
    duplicates: int = 0
    resets: int = 0


class CrossCheckTotal(BaseModel):
    """Counter totals for one tool, session and model, in the token convention of `UsageEvent`."""

    tool: str
    session_id: str | None
    model: str | None
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal | None = None


def _tokens(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_HALF_EVEN))


def _point_key(point: CounterPoint) -> str:
    start = point.start_time.isoformat() if point.start_time else ""
    if point.temporality == "delta":
        return f"{point.series_key}:{start}:{point.time.isoformat()}"
    return f"{point.series_key}:{point.time.isoformat()}"


def _cumulative_increment(
    session: Session, point: CounterPoint, report: CrossCheckReport
) -> Decimal | None:
    """Return the growth since the series' last point, or None for a stale or repeated point."""
    is_cost = point.metric in COST_METRICS
    series = session.get(CounterSeries, point.series_key)

    if series is None:
        series = CounterSeries(series_key=point.series_key, metric=point.metric)
        session.add(series)
        increment = point.value
    else:
        last_value = series.last_cost if is_cost else series.last_tokens
        last = Decimal(last_value) if last_value is not None else Decimal(0)
        restarted = (
            point.start_time is not None
            and series.start_time is not None
            and point.start_time > series.start_time
        )
        if point.start_time and series.start_time and point.start_time < series.start_time:
            return None  # a late point from before the counter last restarted
        if not restarted and point.time <= series.last_time:
            return None

        if restarted or point.value < last:
            report.resets += 1
            increment = point.value
        else:
            increment = point.value - last

    series.start_time = point.start_time
    series.last_time = point.time
    if is_cost:
        series.last_cost = point.value
    else:
        series.last_tokens = _tokens(point.value)
    return increment


def record_points(session: Session, points: Iterable[CounterPoint]) -> CrossCheckReport:
    """Store counter points as increments; the caller commits. Repeated points change nothing."""
    report = CrossCheckReport()

    # Growth is measured between consecutive points of a series, so take them in time order.
    for point in sorted(points, key=lambda item: (item.series_key, item.time)):
        key = _point_key(point)
        if session.get(CounterIncrement, key) is not None:
            report.duplicates += 1
            continue

        if point.temporality == "delta":
            increment: Decimal | None = point.value
        else:
            increment = _cumulative_increment(session, point, report)
        if increment is None:
            report.duplicates += 1
            continue

        is_cost = point.metric in COST_METRICS
        session.add(
            CounterIncrement(
                point_key=key,
                tool=point.tool,
                metric=point.metric,
                token_type=point.token_type,
                session_id=point.session_id,
                model=point.model,
                engineer=point.engineer,
                team=point.team,
                organization=point.organization,
                time=point.time,
                tokens=None if is_cost else _tokens(increment),
                cost=increment if is_cost else None,
            )
        )
        # Flush so a later point of the same batch finds this one by its key.
        session.flush()
        report.stored += 1

    logger.debug("counter points: %s", report)
    return report


def _apply(total: CrossCheckTotal, tool: str, token_type: str | None, tokens: int) -> None:
    """Add raw counter tokens to a total, converting the tool's convention to `UsageEvent`'s."""
    if tool == "claude_code":
        # Claude Code counts like the Anthropic API: input excludes cache reads and writes.
        field = {
            "input": "input_tokens",
            "output": "output_tokens",
            "cacheRead": "cache_read_tokens",
            "cacheCreation": "cache_write_tokens",
        }.get(token_type or "")
        if field:
            setattr(total, field, getattr(total, field) + tokens)
        return

    if tool == "gemini_cli":
        # Gemini's input counter includes cached tokens, tool-use prompt tokens are input
        # too, and its output counter excludes thoughts, which are billed as output.
        if token_type == "input":
            total.input_tokens += tokens
        elif token_type == "cache":
            total.input_tokens -= tokens
            total.cache_read_tokens += tokens
        elif token_type == "tool":
            total.input_tokens += tokens
        elif token_type == "output":
            total.output_tokens += tokens
        elif token_type == "thought":
            total.output_tokens += tokens
            total.reasoning_tokens += tokens


def crosscheck_totals(
    session: Session, *, tool: str | None = None, session_id: str | None = None
) -> list[CrossCheckTotal]:
    """Sum the stored increments per tool, session and model, optionally for one tool or session."""
    query = select(
        CounterIncrement.tool,
        CounterIncrement.session_id,
        CounterIncrement.model,
        CounterIncrement.token_type,
        CounterIncrement.tokens,
        CounterIncrement.cost,
    )
    if tool is not None:
        query = query.where(CounterIncrement.tool == tool)
    if session_id is not None:
        query = query.where(CounterIncrement.session_id == session_id)

    totals: dict[tuple[str, str | None, str | None], CrossCheckTotal] = {}
    tokens_by_type: dict[tuple[str, str | None, str | None, str | None], int] = defaultdict(int)

    for row_tool, row_session, model, token_type, tokens, cost in session.execute(query):
        key = (row_tool, row_session, model)
        total = totals.setdefault(
            key, CrossCheckTotal(tool=row_tool, session_id=row_session, model=model)
        )
        if cost is not None:
            total.cost_usd = (total.cost_usd or Decimal(0)) + cost
        if tokens is not None:
            tokens_by_type[(*key, token_type)] += tokens

    # Convert after summing, because Gemini's uncached input is a difference of two counters.
    for (row_tool, row_session, model, token_type), tokens in tokens_by_type.items():
        _apply(totals[(row_tool, row_session, model)], row_tool, token_type, tokens)

    return sorted(
        totals.values(), key=lambda item: (item.tool, item.session_id or "", item.model or "")
    )


class CrossCheckComparison(BaseModel):
    """Counter totals next to the ledger's usage records for the same tool, session and model."""

    tool: str
    session_id: str | None
    model: str | None
    counters: CrossCheckTotal
    events: CrossCheckTotal
    differences: dict[str, int] = Field(
        default_factory=dict,
        description="Token fields where counters minus events is not zero: missing events if > 0.",
    )


_COMPARED_FIELDS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def _event_totals(
    session: Session, tool: str, session_id: str | None, model: str | None
) -> CrossCheckTotal:
    records = UsageRecord
    query = (
        select(
            func.coalesce(func.sum(records.input_tokens), 0),
            func.coalesce(func.sum(records.cache_read_tokens), 0),
            func.coalesce(
                func.sum(records.cache_write_5m_tokens + records.cache_write_1h_tokens), 0
            ),
            func.coalesce(func.sum(records.output_tokens), 0),
            func.coalesce(func.sum(records.reasoning_tokens), 0),
            func.sum(records.reported_cost),
        )
        .join(AgentSession, records.session_id == AgentSession.id)
        .where(AgentSession.tool == tool, AgentSession.external_id == session_id)
        # `IS` so that a counter without a model matches records without one.
        .where(records.model.is_(None) if model is None else records.model == model)
    )
    row = session.execute(query).one()
    return CrossCheckTotal(
        tool=tool,
        session_id=session_id,
        model=model,
        input_tokens=int(row[0]),
        cache_read_tokens=int(row[1]),
        cache_write_tokens=int(row[2]),
        output_tokens=int(row[3]),
        reasoning_tokens=int(row[4]),
        cost_usd=row[5],
    )


def compare_with_events(
    session: Session, *, tool: str | None = None, session_id: str | None = None
) -> list[CrossCheckComparison]:
    """Compare counter totals with the usage records of each session and model that has counters.

    A positive difference means the counters saw tokens for which no event was recorded.
    Counters without a session id are not compared, because no records can be matched to them.
    """
    comparisons = []
    for counters in crosscheck_totals(session, tool=tool, session_id=session_id):
        if counters.session_id is None:
            continue

        events = _event_totals(session, counters.tool, counters.session_id, counters.model)
        differences = {
            name: getattr(counters, name) - getattr(events, name)
            for name in _COMPARED_FIELDS
            if getattr(counters, name) != getattr(events, name)
        }
        comparisons.append(
            CrossCheckComparison(
                tool=counters.tool,
                session_id=counters.session_id,
                model=counters.model,
                counters=counters,
                events=events,
                differences=differences,
            )
        )
    return comparisons
