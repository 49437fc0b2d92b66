"""The ledger's tables, as SQLAlchemy 2 declarative models.

Money is stored as whole nano-dollars (10^-9 USD) in integer columns, so sums are exact on
SQLite as well as PostgreSQL, and read back as `Decimal` USD. Token counts follow the
convention of `UsageEvent`: `input_tokens` is uncached input and `output_tokens` includes
reasoning tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NANOS_PER_USD = Decimal(10) ** 9


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_nanos(value: Decimal | None) -> int | None:
    """Return USD as whole nano-dollars, rounded half-even, as `Money` stores it."""
    if value is None:
        return None
    return int((Decimal(value) * NANOS_PER_USD).to_integral_value(ROUND_HALF_EVEN))


class Money(TypeDecorator[Decimal]):
    """USD as `Decimal` in Python, whole nano-dollars (rounded half-even) in the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> int | None:
        return to_nanos(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        # PostgreSQL returns SUM(bigint) as numeric and SQLite as int. Both convert exactly.
        if value is None:
            return None
        return Decimal(value) / NANOS_PER_USD


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both dialects (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Engineer(Base):
    """A person, named by account email, account id or OS user."""

    __tablename__ = "engineers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str] = mapped_column(String(320), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TaskRow(Base):
    """A unit of work an agent was asked to do, opened by `start_task`."""

    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    repository: Mapped[str | None] = mapped_column(String(500))
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineers.id", ondelete="SET NULL"))
    session_id: Mapped[str | None] = mapped_column(String(200))
    tool: Mapped[str | None] = mapped_column(String(50))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(20))


class AgentSession(Base):
    """One coding-agent session (a Claude Code transcript, a Codex rollout, …)."""

    __tablename__ = "agent_sessions"
    __table_args__ = (
        UniqueConstraint("tool", "external_id", name="uq_agent_sessions_tool_external_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tool: Mapped[str] = mapped_column(String(50))
    external_id: Mapped[str] = mapped_column(String(200))
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineers.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    repository: Mapped[str | None] = mapped_column(String(500))
    branch: Mapped[str | None] = mapped_column(String(500))
    cwd: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UsageRecord(Base):
    """One billed model request. Its `dedup_key` makes re-reading the same request a no-op.

    `request_id` is the vendor's id of the API request, unique per tool where present, so a
    request read from a session log and from OpenTelemetry is one row. Both databases let
    several rows have no request id, because NULLs never compare equal.
    """

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("uq_usage_records_tool_request", "tool", "request_id", unique=True),
        Index("ix_usage_records_timestamp", "timestamp"),
        Index("ix_usage_records_tool_model", "tool", "model"),
        Index("ix_usage_records_session", "session_id"),
        Index("ix_usage_records_ingested_at", "ingested_at"),
        # Only the unpriced requests, which reports name beside their costs: a few rows at most.
        Index(
            "ix_usage_records_unpriced",
            "timestamp",
            sqlite_where=text("priced = 0"),
            postgresql_where=text("priced = false"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(300), unique=True)
    source: Mapped[str] = mapped_column(String(50))
    tool: Mapped[str] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(200))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_sessions.id", ondelete="SET NULL")
    )
    request_id: Mapped[str | None] = mapped_column(String(200))

    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_5m_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_1h_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger, default=0)

    reported_cost: Mapped[Decimal | None] = mapped_column(Money())
    computed_cost: Mapped[Decimal | None] = mapped_column(Money())
    priced: Mapped[bool] = mapped_column(Boolean, default=False)
    price_version: Mapped[str | None] = mapped_column(String(200))
    pricing_note: Mapped[str | None] = mapped_column(Text)

    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineers.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    organization: Mapped[str | None] = mapped_column(String(200))
    repository: Mapped[str | None] = mapped_column(String(500))
    branch: Mapped[str | None] = mapped_column(String(500))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BriefDelivery(Base):
    """A brief Headstart handed to an agent. Its id (`hsb_…`) appears in session logs."""

    __tablename__ = "brief_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    task: Mapped[str] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    repository: Mapped[str | None] = mapped_column(String(500))
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    session_id: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SessionBrief(Base):
    """A brief id seen in a session's tool results. The delivery row may arrive later."""

    __tablename__ = "session_briefs"
    __table_args__ = (UniqueConstraint("session_id", "brief_id", name="uq_session_briefs"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("agent_sessions.id", ondelete="CASCADE"))
    brief_id: Mapped[str] = mapped_column(String(40), index=True)


class IngestCheckpoint(Base):
    """How far a log file has been read, and the reader state needed to resume there."""

    __tablename__ = "ingest_checkpoints"

    path: Mapped[str] = mapped_column(String(2000), primary_key=True)
    reader: Mapped[str] = mapped_column(String(50))
    device: Mapped[int] = mapped_column(BigInteger)
    inode: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    head_digest: Mapped[str] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PushCursor(Base):
    """The last usage record id already pushed to a central server."""

    __tablename__ = "push_cursors"

    server: Mapped[str] = mapped_column(String(1000), primary_key=True)
    last_record_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class WorkOutcome(Base):
    """The outcome of a session or a task and its class, as `analyze_outcomes` wrote them.

    A task's row sums the sessions that worked on it. `counted` marks the rows per-task figures
    use: every task, and every session that belongs to no task, so no work is counted twice.
    """

    __tablename__ = "work_outcomes"
    __table_args__ = (
        Index(
            "ix_work_outcomes_report",
            "counted",
            "started_at",
            "team_id",
            "engineer_id",
            "tool",
            "model",
            "work_type",
            "classification",
            "has_brief",
            "cost",
            "tokens",
            "merged_pull_requests",
            "reworked",
            "first_try",
        ),
        Index("ix_work_outcomes_cost", "cost"),
        Index("ix_work_outcomes_session", "session_id"),
    )

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    unit: Mapped[str] = mapped_column(String(10))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_sessions.id", ondelete="CASCADE")
    )
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    counted: Mapped[bool] = mapped_column(Boolean, default=True)
    tool: Mapped[str | None] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(200))
    repository: Mapped[str | None] = mapped_column(String(500))
    branch: Mapped[str | None] = mapped_column(String(500))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineers.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    work_type: Mapped[str] = mapped_column(String(20))
    classification: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)

    requests: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    commits: Mapped[int] = mapped_column(Integer, default=0)
    pull_requests: Mapped[int] = mapped_column(Integer, default=0)
    merged_pull_requests: Mapped[int] = mapped_column(Integer, default=0)
    merged: Mapped[bool] = mapped_column(Boolean, default=False)
    reverted: Mapped[bool] = mapped_column(Boolean, default=False)
    reworked: Mapped[bool] = mapped_column(Boolean, default=False)
    looped: Mapped[bool] = mapped_column(Boolean, default=False)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    first_try: Mapped[bool] = mapped_column(Boolean, default=False)
    has_brief: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    analyzed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UsageDaily(Base):
    """Usage summed per UTC day and session (and its team, engineer, tool, model, repository).

    Reports read whole days from here and only the partial days at a period's edges from
    `usage_records`, so they stay fast on millions of requests. `headstart.ledger.reports.rollup`
    rebuilds the days whose usage changed; nothing else writes it.
    """

    __tablename__ = "usage_daily"
    __table_args__ = (Index("ix_usage_daily_day", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10))
    session_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    engineer_id: Mapped[int | None] = mapped_column(Integer)
    tool: Mapped[str] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(200))
    repository: Mapped[str | None] = mapped_column(String(500))
    requests: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[int] = mapped_column(BigInteger)


class RollupState(Base):
    """How far `usage_daily` has caught up with `usage_records`, by their `ingested_at`."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    latest: Mapped[datetime | None] = mapped_column(UTCDateTime())
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime())
