"""Budgets per team: spend in the current period, burn rate, forecast, and outliers by MAD.

The budget period is the calendar week, month or quarter (UTC) that contains `as_of`. The
forecast assumes the rest of the period burns at the rate so far. Outliers are engineers whose
spend in the report's period, and team-days whose spend, sit far above their peers: a modified
z-score (median absolute deviation) above `outlier_z`, never a fixed cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from headstart.ledger.models import Engineer, Team
from headstart.ledger.reports.query import ReportQuery
from headstart.ledger.reports.rollup import ensure_daily, nanos_to_usd, usage_source
from headstart.ledger.reports.settings import ReportSettings
from headstart.ledger.reports.spend import NONE_KEY
from headstart.ledger.reports.sql import names
from headstart.ledger.reports.stats import modified_z_scores
from headstart.ledger.reports.unpriced import UnpricedNotice, unpriced_notice
from headstart.ledger.teams import TeamBudget


class BudgetStatus(BaseModel):
    """A team's spend against its budget in the period that contains `as_of`."""

    team: str
    budget: Decimal | None = Field(description="USD per period; None when teams.toml sets none.")
    period: str
    period_start: date
    period_end: date = Field(description="First day after the period.")
    spent: Decimal
    burn_per_day: Decimal = Field(description="Spend so far divided by the days elapsed.")
    forecast: Decimal = Field(description="Spend expected by the period's end at that burn.")
    used: float | None = Field(default=None, description="spent / budget.")
    forecast_used: float | None = Field(default=None, description="forecast / budget.")
    over_budget: bool = False
    will_exceed: bool = False


class Outlier(BaseModel):
    """A spend far above its peers, with the statistic that singles it out."""

    kind: str = Field(description="engineer (spend in the period) or team_day (a day's spend).")
    key: str
    team: str | None
    cost: Decimal
    median: Decimal
    mad: Decimal
    z: float
    reason: str


class BudgetReport(UnpricedNotice):
    query: ReportQuery
    as_of: datetime
    teams: list[BudgetStatus]
    outliers: list[Outlier]


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """Return [start, end) of the calendar week, month or quarter containing `day`."""
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "quarter":
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    else:
        start = day.replace(day=1)
    months = 3 if period == "quarter" else 1
    month = start.month - 1 + months
    return start, date(start.year + month // 12, month % 12 + 1, 1)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def budget_report(
    session: Session,
    query: ReportQuery,
    budgets: Mapping[str, TeamBudget],
    *,
    team_scope: str | None = None,
    settings: ReportSettings | None = None,
    as_of: datetime | None = None,
) -> BudgetReport:
    """Report each team's budget use and forecast as of `as_of`, and the period's outliers.

    `as_of` defaults to the last instant of the query, or now when that is earlier. The query's
    end is exclusive, so it would fall in the next period. The teams listed are those with a
    budget and those that spent in the current period, as on the dashboard.
    """
    settings = settings or ReportSettings()
    query = query.scoped(team_scope).check()
    now = datetime.now(UTC)
    if as_of is None:
        as_of = min(now, query.end - timedelta(microseconds=1)) if query.end else now
    as_of = as_of.astimezone(UTC)

    ensure_daily(session)
    teams = _team_statuses(session, query, budgets, as_of)
    outliers = _engineer_outliers(session, query, settings) + _day_outliers(
        session, query, settings
    )
    outliers.sort(key=lambda item: -item.z)
    return BudgetReport(
        query=query, as_of=as_of, teams=teams, outliers=outliers, **unpriced_notice(session, query)
    )


def _team_statuses(
    session: Session, query: ReportQuery, budgets: Mapping[str, TeamBudget], as_of: datetime
) -> list[BudgetStatus]:
    # Teams may budget by different periods; query each period once.
    periods = {budget.period for budget in budgets.values()} | {"month"}
    statuses: list[BudgetStatus] = []
    seen: set[str] = set()
    for period in sorted(periods):
        start, end = period_bounds(period, as_of.date())
        window = query.model_copy(update={"start": _at(start), "end": min(as_of, _at(end))})
        source = usage_source(session, window)
        statement = select(source.c.team_id, func.sum(source.c.cost)).group_by(source.c.team_id)
        rows = session.execute(statement).all()
        team_names = names(session, Team, Team.name, {row[0] for row in rows if row[0]})
        spent = {team_names.get(team_id, NONE_KEY): nanos_to_usd(cost) for team_id, cost in rows}

        listed = {
            team
            for team, budget in budgets.items()
            if budget.period == period and (query.team is None or team == query.team)
        }
        if period == "month":
            # Teams without a budget are shown by calendar month.
            listed |= {team for team in spent if team not in budgets and team != NONE_KEY}
        for team in sorted(listed - seen):
            seen.add(team)
            statuses.append(_status(team, budgets.get(team), period, start, end, spent, as_of))
    return sorted(statuses, key=lambda status: status.team)


def _status(
    team: str,
    budget: TeamBudget | None,
    period: str,
    start: date,
    end: date,
    spent_by_team: dict[str, Decimal],
    as_of: datetime,
) -> BudgetStatus:
    spent = spent_by_team.get(team, Decimal(0))
    elapsed = max((min(as_of, _at(end)) - _at(start)).total_seconds() / 86400, 1 / 24)
    length = (end - start).days
    burn = spent / Decimal(str(elapsed))
    forecast = burn * Decimal(length)
    amount = budget.amount_usd if budget else None
    return BudgetStatus(
        team=team,
        budget=amount,
        period=period,
        period_start=start,
        period_end=end,
        spent=spent,
        burn_per_day=burn.quantize(Decimal("0.000001")),
        forecast=forecast.quantize(Decimal("0.000001")),
        used=float(spent / amount) if amount else None,
        forecast_used=float(forecast / amount) if amount else None,
        over_budget=amount is not None and spent > amount,
        will_exceed=amount is not None and forecast > amount,
    )


def _engineer_outliers(
    session: Session, query: ReportQuery, settings: ReportSettings
) -> list[Outlier]:
    source = usage_source(session, query)
    statement = (
        select(source.c.engineer_id, source.c.team_id, func.sum(source.c.cost))
        .where(source.c.engineer_id.is_not(None))
        .group_by(source.c.engineer_id, source.c.team_id)
    )
    rows = [(e, t, nanos_to_usd(cost)) for e, t, cost in session.execute(statement)]
    engineers = names(session, Engineer, Engineer.identity, {row[0] for row in rows})
    teams = names(session, Team, Team.name, {row[1] for row in rows if row[1]})
    keyed = [
        (engineers.get(engineer, NONE_KEY), teams.get(team), cost or Decimal(0))
        for engineer, team, cost in rows
    ]
    return _outliers("engineer", keyed, settings, "spend in the period")


def _day_outliers(session: Session, query: ReportQuery, settings: ReportSettings) -> list[Outlier]:
    """Days on which a team spent far more than on its other days."""
    source = usage_source(session, query)
    statement = (
        select(source.c.team_id, source.c.day, func.sum(source.c.cost))
        .where(source.c.team_id.is_not(None))
        .group_by(source.c.team_id, source.c.day)
    )
    rows = [(t, day, nanos_to_usd(cost)) for t, day, cost in session.execute(statement)]
    teams = names(session, Team, Team.name, {row[0] for row in rows})
    by_team: dict[str, list[tuple[str, str | None, Decimal]]] = {}
    for team_id, label, cost in rows:
        team = teams.get(team_id, NONE_KEY)
        by_team.setdefault(team, []).append((str(label)[:10], team, cost or Decimal(0)))
    found: list[Outlier] = []
    for team in sorted(by_team):
        found += _outliers("team_day", by_team[team], settings, f"{team}'s daily spend")
    return found


def _outliers(
    kind: str,
    keyed: list[tuple[str, str | None, Decimal]],
    settings: ReportSettings,
    peers: str,
) -> list[Outlier]:
    # Fewer than five values have no meaningful spread.
    if len(keyed) < 5:
        return []
    center, mad, scores = modified_z_scores([float(cost) for _key, _team, cost in keyed])
    found = []
    for (key, team, cost), z in zip(keyed, scores, strict=True):
        if z is None or z <= settings.outlier_z:
            continue
        found.append(
            Outlier(
                kind=kind,
                key=key,
                team=team,
                cost=cost,
                median=Decimal(str(round(center, 6))),
                mad=Decimal(str(round(mad, 6))),
                z=round(z, 3),
                reason=(
                    f"{key} spent ${cost:.2f}, modified z-score {z:.1f} above the median "
                    f"${center:.2f} of {len(keyed)} values of {peers} "
                    f"(threshold {settings.outlier_z})"
                ),
            )
        )
    return found
