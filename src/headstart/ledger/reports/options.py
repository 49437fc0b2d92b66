"""The values a report's filters can take: the ledger's teams and coding tools.

A filter form (the dashboard's, for one) offers these, so a caller picks a team or tool that the
ledger has instead of typing one.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from headstart.ledger.models import Team, UsageRecord


class ReportOptions(BaseModel):
    """Teams (only the caller's own for a team's caller) and tools with usage, sorted by name."""

    teams: list[str]
    tools: list[str]


def report_options(session: Session, team_scope: str | None = None) -> ReportOptions:
    """Return the teams and coding tools a report can be filtered by.

    A caller limited to `team_scope` sees only its own team, as every report does; the tools
    are the organisation's, read from the (tool, model) index of `usage_records`.
    """
    if team_scope is not None:
        teams = [team_scope]
    else:
        teams = list(session.scalars(select(Team.name).order_by(Team.name)))
    tools = session.scalars(select(UsageRecord.tool).distinct().order_by(UsageRecord.tool))
    return ReportOptions(teams=teams, tools=list(tools))
