"""The request every report takes: a period, a granularity, and filters on who spent what.

A team token's reports run with `team_scope` set: the scope replaces an empty team filter, and
a filter naming another team is rejected rather than silently emptied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from headstart.ledger.errors import LedgerInputError


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class ReportScopeError(LedgerInputError):
    """A report asked for a team other than the one its caller may see."""


class ReportQuery(BaseModel):
    """The period and filters of a report; every field is optional.

    `start` is inclusive and `end` exclusive, both UTC. Filters match exactly, except
    `repository`, which also matches the normalized form (`github.com/acme/api`).
    """

    start: datetime | None = Field(default=None, description="First instant (UTC), inclusive.")
    end: datetime | None = Field(default=None, description="Last instant (UTC), exclusive.")
    granularity: Granularity = Field(default=Granularity.DAY, description="Bucket of time series.")
    team: str | None = Field(default=None, description="Only this team.")
    engineer: str | None = Field(default=None, description="Only this engineer (identity).")
    tool: str | None = Field(default=None, description="Only this coding tool.")
    model: str | None = Field(default=None, description="Only this model.")
    repository: str | None = Field(default=None, description="Only this repository.")

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def scoped(self, team_scope: str | None) -> ReportQuery:
        """Return this query restricted to `team_scope`, or raise if it names another team."""
        if team_scope is None:
            return self
        if self.team is not None and self.team != team_scope:
            raise ReportScopeError(
                f"team {self.team!r} is outside this caller's scope: ask for team "
                f"{team_scope!r} or leave the team filter empty"
            )
        return self.model_copy(update={"team": team_scope})

    def check(self) -> ReportQuery:
        """Validate the query again (copies skip validation) and check its period."""
        query = type(self).model_validate(self.model_dump())
        if query.start and query.end and query.start >= query.end:
            raise LedgerInputError(
                f"invalid period: start {query.start.isoformat()!r} is not before end "
                f"{query.end.isoformat()!r}; swap them or widen the period"
            )
        return query
