"""REST routes of the leaders' reports, `/v1/reports/…`: thin calls into `headstart.ledger.reports`.

Each route reads the query string into a `ReportQuery`, runs one report in a ledger session,
and returns its pydantic model as JSON. A team token's requests run with that team as their
scope, so they see only their own team's figures; naming another team is a 403.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from headstart.ledger.errors import LedgerInputError
from headstart.ledger.reports import (
    BudgetReport,
    Cohort,
    CompareReport,
    Dimension,
    EfficiencyReport,
    Granularity,
    ReportQuery,
    ReportScopeError,
    ReportSettings,
    SessionsReport,
    SpendReport,
    VerdictReport,
    brief_cohorts,
    budget_report,
    compare_report,
    efficiency_report,
    sessions_report,
    spend_report,
    verdict_report,
)
from headstart.ledger.teams import TeamMap
from headstart.server.access import Access, RequestAccess
from headstart.server.ledger import LEDGER_FAILURES
from headstart.server.services import Services

logger = logging.getLogger("headstart.server.reports")

Report = TypeVar("Report", bound=BaseModel)


def report_query(
    start: Annotated[datetime | None, Query(description="First instant (UTC), inclusive.")] = None,
    end: Annotated[datetime | None, Query(description="Last instant (UTC), exclusive.")] = None,
    granularity: Annotated[Granularity, Query(description="Bucket of time series.")] = (
        Granularity.DAY
    ),
    team: Annotated[str | None, Query(description="Only this team.")] = None,
    engineer: Annotated[str | None, Query(description="Only this engineer.")] = None,
    tool: Annotated[str | None, Query(description="Only this coding tool.")] = None,
    model: Annotated[str | None, Query(description="Only this model.")] = None,
    repository: Annotated[str | None, Query(description="Only this repository.")] = None,
) -> ReportQuery:
    """FastAPI dependency: the report query from the query string."""
    return ReportQuery(
        start=start,
        end=end,
        granularity=granularity,
        team=team,
        engineer=engineer,
        tool=tool,
        model=model,
        repository=repository,
    )


QueryParameters = Annotated[ReportQuery, Depends(report_query)]


def build_reports_router(services: Services) -> APIRouter:
    """Build the `/v1/reports/…` routes over the server's ledger and settings."""
    router = APIRouter(prefix="/v1/reports", tags=["reports"])
    rules = ReportSettings.from_settings(services.settings)

    def run(
        access: Access, query: ReportQuery, report: Callable[[Session, ReportQuery], Report]
    ) -> Report:
        scoped = query.model_copy(update={"team": access.team_filter(query.team)})
        try:
            with services.ledger.get().session() as session:
                return report(session, scoped)
        except ReportScopeError as exc:
            raise HTTPException(status_code=403, detail=str(exc)) from exc
        except LedgerInputError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        except LEDGER_FAILURES as exc:
            logger.warning("a report failed to read the ledger: %s", exc)
            raise HTTPException(
                status_code=503, detail=f"the ledger is unavailable: {exc}"
            ) from exc

    # Plain `def` routes: FastAPI runs them in worker threads, since they wait on the database.
    @router.get("/spend", response_model=SpendReport, summary="Spend over time by a dimension")
    def spend(
        access: RequestAccess,
        query: QueryParameters,
        by: Annotated[Dimension, Query(description="Group spend by this.")] = Dimension.TEAM,
    ) -> SpendReport:
        return run(
            access,
            query,
            lambda session, q: spend_report(session, q, dimension=by, team_scope=access.team),
        )

    @router.get("/efficiency", response_model=EfficiencyReport, summary="Efficiency split")
    def efficiency(access: RequestAccess, query: QueryParameters) -> EfficiencyReport:
        return run(
            access, query, lambda session, q: efficiency_report(session, q, team_scope=access.team)
        )

    @router.get("/budgets", response_model=BudgetReport, summary="Budgets, burn and outliers")
    def budgets(
        access: RequestAccess,
        query: QueryParameters,
        as_of: Annotated[
            datetime | None, Query(description="Judge budgets at this instant; default now.")
        ] = None,
    ) -> BudgetReport:
        def report(session: Session, q: ReportQuery) -> BudgetReport:
            team_budgets = TeamMap.load(services.settings.teams_file).budgets
            return budget_report(
                session, q, team_budgets, team_scope=access.team, settings=rules, as_of=as_of
            )

        return run(access, query, report)

    @router.get("/verdicts", response_model=VerdictReport, summary="Keep, scope or cut per tool")
    def verdicts(access: RequestAccess, query: QueryParameters) -> VerdictReport:
        return run(
            access,
            query,
            lambda session, q: verdict_report(session, q, team_scope=access.team, settings=rules),
        )

    @router.get("/compare", response_model=CompareReport, summary="Before/after cohorts")
    def compare(
        access: RequestAccess,
        query: QueryParameters,
        brief: Annotated[
            bool,
            Query(description="Compare sessions without a brief (before) with those with one."),
        ] = False,
        before_start: datetime | None = None,
        before_end: datetime | None = None,
        after_start: datetime | None = None,
        after_end: datetime | None = None,
    ) -> CompareReport:
        if brief:
            first, second = brief_cohorts()
        elif any((before_start, before_end)) and any((after_start, after_end)):
            first = Cohort(label="before", start=before_start, end=before_end)
            second = Cohort(label="after", start=after_start, end=after_end)
        else:
            raise HTTPException(
                status_code=400,
                detail="give brief=true, or before_start/before_end and after_start/after_end",
            )
        return run(
            access,
            query,
            lambda session, q: compare_report(
                session, q, first, second, team_scope=access.team, settings=rules
            ),
        )

    @router.get(
        "/sessions", response_model=SessionsReport, summary="Sessions and tasks, classified"
    )
    def sessions(
        access: RequestAccess,
        query: QueryParameters,
        classification: Annotated[
            str | None,
            Query(alias="class", description="productive, inefficient, wasteful or pending."),
        ] = None,
        unit: Annotated[str | None, Query(description="session or task; default both.")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> SessionsReport:
        def report(session: Session, q: ReportQuery) -> SessionsReport:
            return sessions_report(
                session,
                q,
                classification=classification,
                unit=unit,
                limit=limit,
                offset=offset,
                team_scope=access.team,
            )

        return run(access, query, report)

    return router
