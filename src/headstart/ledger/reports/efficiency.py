"""The efficiency split: which share of spend was productive, inefficient, wasteful or pending.

Spend is joined to the outcome of its session. Spend of sessions not analyzed yet, or of
requests without a session, is reported apart as `unanalyzed`, never guessed into a class.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from headstart.ledger.models import Engineer, Team, WorkOutcome
from headstart.ledger.reports.classes import Classification
from headstart.ledger.reports.query import ReportQuery
from headstart.ledger.reports.rollup import ensure_daily, nanos_to_usd, usage_source
from headstart.ledger.reports.spend import NONE_KEY
from headstart.ledger.reports.sql import names
from headstart.ledger.reports.unpriced import UnpricedNotice, unpriced_notice

UNANALYZED = "unanalyzed"


class EfficiencySplit(BaseModel):
    """Spend of one team or engineer (or of everyone) split by class."""

    key: str
    team: str | None = None
    cost: Decimal
    by_class: dict[str, Decimal] = Field(
        description="Cost per class: productive, inefficient, wasteful, pending, unanalyzed."
    )
    shares: dict[str, float] = Field(description="Share of `cost` per class.")


class EfficiencyReport(UnpricedNotice):
    query: ReportQuery
    overall: EfficiencySplit
    teams: list[EfficiencySplit]
    engineers: list[EfficiencySplit]


CLASSES = [item.value for item in Classification] + [UNANALYZED]


def _split(key: str, costs: dict[str, Decimal], team: str | None = None) -> EfficiencySplit:
    total = sum(costs.values(), Decimal(0))
    by_class = {name: costs.get(name, Decimal(0)) for name in CLASSES}
    shares = {name: float(value / total) if total else 0.0 for name, value in by_class.items()}
    return EfficiencySplit(key=key, team=team, cost=total, by_class=by_class, shares=shares)


def efficiency_report(
    session: Session, query: ReportQuery, *, team_scope: str | None = None
) -> EfficiencyReport:
    """Split the period's spend by class, overall, per team and per engineer."""
    query = query.scoped(team_scope).check()
    ensure_daily(session)
    source = usage_source(session, query)
    statement = (
        select(
            source.c.team_id,
            source.c.engineer_id,
            WorkOutcome.classification,
            func.sum(source.c.cost),
        )
        .select_from(source)
        .outerjoin(
            WorkOutcome,
            and_(WorkOutcome.session_id == source.c.session_id, WorkOutcome.unit == "session"),
        )
        .group_by(source.c.team_id, source.c.engineer_id, WorkOutcome.classification)
    )
    rows = [
        (team, engineer, classification, nanos_to_usd(cost))
        for team, engineer, classification, cost in session.execute(statement)
    ]

    team_names = names(session, Team, Team.name, {row[0] for row in rows if row[0] is not None})
    engineer_names = names(
        session, Engineer, Engineer.identity, {row[1] for row in rows if row[1] is not None}
    )
    overall: dict[str, Decimal] = {}
    teams: dict[str, dict[str, Decimal]] = {}
    engineers: dict[tuple[str, str], dict[str, Decimal]] = {}
    for team_id, engineer_id, classification, cost in rows:
        name = classification or UNANALYZED
        cost = cost or Decimal(0)
        team = team_names.get(team_id, NONE_KEY)
        engineer = engineer_names.get(engineer_id, NONE_KEY)
        for bucket in (
            overall,
            teams.setdefault(team, {}),
            engineers.setdefault((engineer, team), {}),
        ):
            bucket[name] = bucket.get(name, Decimal(0)) + cost

    return EfficiencyReport(
        query=query,
        overall=_split("all", overall),
        teams=_ordered([_split(team, costs) for team, costs in teams.items()]),
        engineers=_ordered(
            [_split(engineer, costs, team) for (engineer, team), costs in engineers.items()]
        ),
        **unpriced_notice(session, query),
    )


def _ordered(splits: list[Any]) -> list[Any]:
    return sorted(splits, key=lambda split: (-split.cost, split.key))
