"""Spend over time by team, engineer, tool, model, repository or type of work, with growth.

The organisation's baseline is the same period and tool, model and repository filters over
every team and engineer: its total per bucket and the average per group, so a team can see
whether it spends more than a typical team. The baseline carries no other team's name.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from headstart.ledger.models import Engineer, Team, WorkOutcome
from headstart.ledger.reports.query import ReportQuery
from headstart.ledger.reports.rollup import ensure_daily, nanos_to_usd, usage_source
from headstart.ledger.reports.sql import day_bucket, names
from headstart.ledger.reports.unpriced import UnpricedNotice, unpriced_notice

NONE_KEY = "(none)"


class Dimension(StrEnum):
    TEAM = "team"
    ENGINEER = "engineer"
    TOOL = "tool"
    MODEL = "model"
    REPOSITORY = "repository"
    WORK_TYPE = "work_type"


class SpendPoint(BaseModel):
    """One bucket of one group: its spend, and its growth over the group's previous bucket."""

    bucket: date
    cost: Decimal
    tokens: int
    requests: int
    growth: float | None = Field(
        default=None, description="(cost - previous bucket's cost) / previous; None without one."
    )


class SpendSeries(BaseModel):
    """A group's spend over the period; `key` is "(none)" for spend attributed to no group."""

    key: str
    cost: Decimal
    tokens: int
    requests: int
    share: float = Field(description="Share of the report's total cost.")
    growth: float | None = Field(
        default=None,
        description="Average growth per bucket from the first to the last bucket with spend.",
    )
    vs_baseline: float | None = Field(
        default=None, description="Cost divided by the organisation's average per group."
    )
    points: list[SpendPoint]


class BaselinePoint(BaseModel):
    """The organisation's spend in one bucket, and its average per group that spent."""

    bucket: date
    cost: Decimal
    groups: int
    per_group: Decimal


class SpendReport(UnpricedNotice):
    query: ReportQuery
    dimension: Dimension
    buckets: list[date]
    cost: Decimal
    tokens: int
    requests: int
    series: list[SpendSeries]
    baseline: list[BaselinePoint]
    baseline_growth: float | None = Field(
        default=None, description="Average growth per bucket of the organisation's spend."
    )


def _group_column(source: Any, dimension: Dimension) -> Any:
    if dimension is Dimension.WORK_TYPE:
        return WorkOutcome.work_type
    return source.c[
        {
            Dimension.TEAM: "team_id",
            Dimension.ENGINEER: "engineer_id",
            Dimension.TOOL: "tool",
            Dimension.MODEL: "model",
            Dimension.REPOSITORY: "repository",
        }[dimension]
    ]


def _grouped(
    session: Session, query: ReportQuery, dimension: Dimension
) -> list[tuple[date, Any, Decimal, int, int]]:
    """Return (bucket, group, cost, tokens, requests) rows, aggregated in the database."""
    source = usage_source(session, query)
    label = day_bucket(session, source.c.day, query.granularity).label("bucket")
    group = _group_column(source, dimension).label("grp")
    statement = select(
        label,
        group,
        func.sum(source.c.cost),
        func.sum(source.c.tokens),
        func.sum(source.c.requests),
    ).select_from(source)
    if dimension is Dimension.WORK_TYPE:
        # Each session has one session-level outcome row, so the join adds no rows.
        statement = statement.outerjoin(
            WorkOutcome,
            and_(WorkOutcome.session_id == source.c.session_id, WorkOutcome.unit == "session"),
        )
    statement = statement.group_by(label, group)
    return [
        (
            date.fromisoformat(str(day)[:10]),
            key,
            nanos_to_usd(cost),
            int(tokens or 0),
            int(requests),
        )
        for day, key, cost, tokens, requests in session.execute(statement)
    ]


def _growth(previous: Decimal | None, current: Decimal) -> float | None:
    if previous is None or previous == 0:
        return None
    return float((current - previous) / previous)


def average_growth(costs: list[Decimal]) -> float | None:
    """Compound growth per bucket between the first and last non-zero values."""
    spent = [(index, cost) for index, cost in enumerate(costs) if cost > 0]
    if len(spent) < 2:
        return None
    (first_index, first), (last_index, last) = spent[0], spent[-1]
    steps = last_index - first_index
    return float((last / first) ** (Decimal(1) / Decimal(steps))) - 1.0


def spend_report(
    session: Session,
    query: ReportQuery,
    *,
    dimension: Dimension | str = Dimension.TEAM,
    team_scope: str | None = None,
) -> SpendReport:
    """Sum spend per bucket and group, with growth rates and the organisation's baseline."""
    dimension = Dimension(dimension)
    query = query.scoped(team_scope).check()
    ensure_daily(session)
    rows = _grouped(session, query, dimension)

    keys = _key_names(session, dimension, {row[1] for row in rows})
    buckets = sorted({row[0] for row in rows})
    by_group: dict[str, dict[date, tuple[Decimal, int, int]]] = {}
    for day, key, cost, tokens, requests in rows:
        cells = by_group.setdefault(keys.get(key, NONE_KEY), {})
        old = cells.get(day, (Decimal(0), 0, 0))
        cells[day] = (old[0] + (cost or Decimal(0)), old[1] + tokens, old[2] + requests)

    baseline = _baseline(session, query, dimension, rows, buckets)
    baseline_costs = {point.bucket: point for point in baseline}
    total = sum((row[2] or Decimal(0) for row in rows), Decimal(0))

    series = []
    for key, cells in by_group.items():
        points: list[SpendPoint] = []
        previous: Decimal | None = None
        for day in buckets:
            cost, tokens, requests = cells.get(day, (Decimal(0), 0, 0))
            # Every value already has its field's type, so validation is skipped: a daily report
            # by engineer builds tens of thousands of points.
            points.append(
                SpendPoint.model_construct(
                    bucket=day,
                    cost=cost,
                    tokens=tokens,
                    requests=requests,
                    growth=_growth(previous, cost),
                )
            )
            previous = cost
        cost = sum((point.cost for point in points), Decimal(0))
        org_average = sum(
            (baseline_costs[day].per_group for day in cells if day in baseline_costs), Decimal(0)
        )
        series.append(
            SpendSeries(
                key=key,
                cost=cost,
                tokens=sum(point.tokens for point in points),
                requests=sum(point.requests for point in points),
                share=float(cost / total) if total else 0.0,
                growth=average_growth([point.cost for point in points]),
                vs_baseline=float(cost / org_average) if org_average else None,
                points=points,
            )
        )
    series.sort(key=lambda item: (-item.cost, item.key))

    return SpendReport(
        query=query,
        dimension=dimension,
        buckets=buckets,
        cost=total,
        tokens=sum(row[3] for row in rows),
        requests=sum(row[4] for row in rows),
        series=series,
        baseline=baseline,
        baseline_growth=average_growth([point.cost for point in baseline]),
        **unpriced_notice(session, query),
    )


def _key_names(session: Session, dimension: Dimension, keys: set[Any]) -> dict[Any, str]:
    ids = {key for key in keys if key is not None}
    if dimension is Dimension.TEAM:
        return names(session, Team, Team.name, ids)
    if dimension is Dimension.ENGINEER:
        return names(session, Engineer, Engineer.identity, ids)
    return {key: str(key) for key in ids}


def _baseline(
    session: Session,
    query: ReportQuery,
    dimension: Dimension,
    rows: list[tuple[date, Any, Decimal, int, int]],
    buckets: list[date],
) -> list[BaselinePoint]:
    """Sum the organisation's spend per bucket, querying again only when the report is restricted."""
    if query.team is not None or query.engineer is not None:
        org = query.model_copy(update={"team": None, "engineer": None})
        rows = _grouped(session, org, dimension)
    per_bucket: dict[date, tuple[Decimal, set[Any]]] = {}
    for day, key, cost, _tokens, _requests in rows:
        total, groups = per_bucket.get(day, (Decimal(0), set()))
        groups.add(key)
        per_bucket[day] = (total + (cost or Decimal(0)), groups)

    points = []
    for day in sorted(set(per_bucket) | set(buckets)):
        total, groups = per_bucket.get(day, (Decimal(0), set()))
        count = len(groups)
        points.append(
            BaselinePoint(
                bucket=day,
                cost=total,
                groups=count,
                per_group=(total / count) if count else Decimal(0),
            )
        )
    return points
