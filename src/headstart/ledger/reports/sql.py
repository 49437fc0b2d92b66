"""SQL pieces every report shares: time buckets per dialect, token sums, and the query's filters.

Reports aggregate in the database (GROUP BY) and read back one row per group, so their cost
grows with the number of groups, not with the number of usage records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, cast, func, literal, select
from sqlalchemy.orm import Session

from headstart.ledger.models import Engineer, Team, UsageRecord
from headstart.ledger.reports.query import Granularity, ReportQuery
from headstart.ledger.teams import normalize_repository

# Stands in for a name that matches no row, so a filter on an unknown team returns nothing.
NO_ROW = -1


def token_sum(table: Any = UsageRecord) -> ColumnElement[Any]:
    """Build the sum of a request's billed tokens; output already includes reasoning."""
    return (
        table.input_tokens
        + table.cache_read_tokens
        + table.cache_write_5m_tokens
        + table.cache_write_1h_tokens
        + table.output_tokens
    )


def day_bucket(session: Session, day: Any, granularity: Granularity) -> ColumnElement[str]:
    """Label a 'YYYY-MM-DD' day with the first day of its bucket, in the same form."""
    granularity = Granularity(granularity)
    if granularity is Granularity.DAY:
        return day
    if session.get_bind().dialect.name == "postgresql":
        truncated = func.date_trunc(granularity.value, cast(day, Date))
        return func.to_char(truncated, "YYYY-MM-DD")
    if granularity is Granularity.MONTH:
        return func.substr(day, 1, 7).concat(literal("-01"))
    return func.date(day, "weekday 0", "-6 days")


def team_id(session: Session, name: str | None) -> int | None:
    if name is None:
        return None
    found = session.scalar(select(Team.id).where(Team.name == name))
    return found if found is not None else NO_ROW


def engineer_id(session: Session, identity: str | None) -> int | None:
    if identity is None:
        return None
    found = session.scalar(select(Engineer.id).where(Engineer.identity == identity.strip().lower()))
    return found if found is not None else NO_ROW


def repository_values(repository: str | None) -> list[str]:
    if repository is None:
        return []
    return sorted({repository, normalize_repository(repository)})


def group_filters(session: Session, query: ReportQuery) -> Callable[[Any], list[Any]]:
    """Resolve the query's team, engineer, tool, model and repository filters once.

    Returns a function that gives their conditions on a table with those columns: usage
    records, daily usage or work outcomes.
    """
    team, engineer = team_id(session, query.team), engineer_id(session, query.engineer)
    repositories = repository_values(query.repository)

    def conditions(table: Any) -> list[Any]:
        found = []
        if team is not None:
            found.append(table.team_id == team)
        if engineer is not None:
            found.append(table.engineer_id == engineer)
        if query.tool is not None:
            found.append(table.tool == query.tool)
        if query.model is not None:
            found.append(table.model == query.model)
        if repositories:
            found.append(table.repository.in_(repositories))
        return found

    return conditions


def filter_outcomes(
    session: Session, statement: Select[Any], query: ReportQuery, table: Any
) -> Select[Any]:
    """Add the query's period and filters to a statement over `work_outcomes`.

    A unit belongs to the period in which it started.
    """
    if query.start is not None:
        statement = statement.where(table.started_at >= query.start)
    if query.end is not None:
        statement = statement.where(table.started_at < query.end)
    return statement.where(*group_filters(session, query)(table))


def names(session: Session, model: Any, column: Any, ids: set[int]) -> dict[int, str]:
    """Map ids of teams or engineers to their names, in one query."""
    if not ids:
        return {}
    return dict(session.execute(select(model.id, column).where(model.id.in_(sorted(ids)))).all())
