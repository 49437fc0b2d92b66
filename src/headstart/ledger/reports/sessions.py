"""The rows behind the other reports: each session or task with its class and reasons."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from headstart.ledger.errors import LedgerInputError
from headstart.ledger.models import AgentSession, Engineer, Team, WorkOutcome
from headstart.ledger.reports.classes import Classification
from headstart.ledger.reports.query import ReportQuery
from headstart.ledger.reports.sql import filter_outcomes, names

MAX_LIMIT = 1000


class WorkItem(BaseModel):
    """A session or task, what it produced, and why it got its class."""

    id: str
    unit: str = Field(description="session or task.")
    session: str | None = Field(default=None, description="The tool's own session id.")
    task_id: str | None = None
    tool: str | None = None
    model: str | None = None
    team: str | None = None
    engineer: str | None = None
    repository: str | None = None
    branch: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    work_type: str
    classification: Classification
    reasons: list[str]
    cost: Decimal
    tokens: int
    requests: int
    commits: int
    pull_requests: int
    merged_pull_requests: int
    reverted: bool
    reworked: bool
    looped: bool
    has_brief: bool
    evidence: dict[str, Any]


class SessionsReport(BaseModel):
    query: ReportQuery
    total: int
    counts: dict[str, int] = Field(description="Units per class, over all pages.")
    items: list[WorkItem]
    next_offset: int | None = None


def sessions_report(
    session: Session,
    query: ReportQuery,
    *,
    classification: Classification | str | None = None,
    unit: str | None = None,
    limit: int = 100,
    offset: int = 0,
    team_scope: str | None = None,
) -> SessionsReport:
    """List analyzed sessions and tasks, most expensive first, with their classes and reasons.

    `unit` is "session", "task", or None for both.
    """
    query = query.scoped(team_scope).check()
    if unit not in (None, "session", "task"):
        raise LedgerInputError(f"invalid unit {unit!r}: expected session or task")
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise LedgerInputError(
            f"invalid page limit={limit!r} offset={offset!r}: expected 1..{MAX_LIMIT} and >= 0"
        )
    try:
        selected = Classification(classification) if classification is not None else None
    except ValueError as exc:
        allowed = ", ".join(item.value for item in Classification)
        raise LedgerInputError(
            f"invalid class {classification!r}: expected one of {allowed}"
        ) from exc

    table = WorkOutcome

    def scoped(statement: Any) -> Any:
        statement = filter_outcomes(session, statement, query, table)
        if unit is not None:
            statement = statement.where(table.unit == unit)
        return statement

    counts = {
        name: int(count)
        for name, count in session.execute(
            scoped(select(table.classification, func.count()).group_by(table.classification))
        )
    }
    listing = scoped(select(table, AgentSession.external_id)).outerjoin(
        AgentSession, AgentSession.id == table.session_id
    )
    if selected is not None:
        listing = listing.where(table.classification == selected.value)
    rows = session.execute(
        listing.order_by(table.cost.desc(), table.id).limit(limit + 1).offset(offset)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]

    teams = names(session, Team, Team.name, {row[0].team_id for row in rows if row[0].team_id})
    engineers = names(
        session,
        Engineer,
        Engineer.identity,
        {row[0].engineer_id for row in rows if row[0].engineer_id},
    )
    items = [
        WorkItem(
            id=outcome.id,
            unit=outcome.unit,
            session=external,
            task_id=outcome.task_id,
            tool=outcome.tool,
            model=outcome.model,
            team=teams.get(outcome.team_id) if outcome.team_id else None,
            engineer=engineers.get(outcome.engineer_id) if outcome.engineer_id else None,
            repository=outcome.repository,
            branch=outcome.branch,
            started_at=outcome.started_at,
            ended_at=outcome.ended_at,
            work_type=outcome.work_type,
            classification=Classification(outcome.classification),
            reasons=list(outcome.reasons or []),
            cost=outcome.cost,
            tokens=outcome.tokens,
            requests=outcome.requests,
            commits=outcome.commits,
            pull_requests=outcome.pull_requests,
            merged_pull_requests=outcome.merged_pull_requests,
            reverted=outcome.reverted,
            reworked=outcome.reworked,
            looped=outcome.looped,
            has_brief=outcome.has_brief,
            evidence=dict(outcome.evidence or {}),
        )
        for outcome, external in rows
    ]
    total = sum(counts.values()) if selected is None else counts.get(selected.value, 0)
    return SessionsReport(
        query=query,
        total=total,
        counts=counts,
        items=items,
        next_offset=offset + limit if more else None,
    )
