"""Find the requests in a report's period and filters whose model had no price.

Their tokens are counted, but their cost is unknown, so a report that sums costs names them
beside its figures. They are read through the partial index of unpriced requests.

The verdict and before/after reports read the costs that `headstart report analyze` stored per
unit, so pricing the requests changes their figures only after the next analysis, and their fix
ends with running it. A comparison names the requests in either cohort's period.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from headstart.ledger.models import UsageRecord
from headstart.ledger.pricing import unpriced_fix
from headstart.ledger.reports.query import ReportQuery
from headstart.ledger.reports.sql import group_filters, token_sum
from headstart.ledger.summary import UnpricedModel
from headstart.text import counted


class UnpricedNotice(BaseModel):
    """The fields of a cost report that name the requests it counts at $0: unknown cost."""

    unpriced: list[UnpricedModel] = Field(
        default_factory=list,
        description="Models with requests of unknown cost in the period, counted at $0.",
    )
    warnings: list[str] = Field(default_factory=list)


Period = tuple[datetime | None, datetime | None]

# Added to the fix by reports that read the costs stored in work_outcomes.
REANALYZE = "; then run `headstart report analyze`, which stores the costs this report reads"


def unpriced_notice(
    session: Session,
    query: ReportQuery,
    *,
    periods: Sequence[Period] | None = None,
    analyzed: bool = False,
) -> dict[str, Any]:
    """Return the `UnpricedNotice` fields of a report over `query`.

    `periods` replaces the query's own [start, end) by several, such as a comparison's cohorts;
    a request in more than one is named once. Set `analyzed` for a report that reads the costs
    `headstart report analyze` stored, so the fix ends with running it.
    """
    models = unpriced_models(session, query, periods=periods, analyzed=analyzed)
    return {"unpriced": models, "warnings": unpriced_warnings(models)}


def unpriced_models(
    session: Session,
    query: ReportQuery,
    *,
    periods: Sequence[Period] | None = None,
    analyzed: bool = False,
) -> list[UnpricedModel]:
    """Return each tool and model with unpriced requests in `query`, most requests first."""
    table = UsageRecord.__table__
    # The condition of ix_usage_records_unpriced, written the same way so it is used.
    statement = select(
        table.c.tool, table.c.model, func.count(), func.sum(token_sum(table.c))
    ).where(table.c.priced == false())
    if periods is None:
        statement = statement.where(*_bounds(table.c.timestamp, query.start, query.end))
    elif periods:
        statement = statement.where(
            or_(*(and_(true(), *_bounds(table.c.timestamp, *period)) for period in periods))
        )
    else:
        statement = statement.where(false())
    statement = statement.where(*group_filters(session, query)(table.c))

    rows = session.execute(statement.group_by(table.c.tool, table.c.model)).all()
    found = [
        UnpricedModel(
            tool=tool,
            model=model,
            requests=requests,
            tokens=int(tokens or 0),
            fix=unpriced_fix(model) + (REANALYZE if analyzed and model else ""),
        )
        for tool, model, requests, tokens in rows
    ]
    return sorted(found, key=lambda item: (-item.requests, item.tool, item.model or ""))


def _bounds(column: Any, start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    """Return the conditions that put `column` in [start, end); a None bound is left open."""
    bounds = []
    if start is not None:
        bounds.append(column >= start)
    if end is not None:
        bounds.append(column < end)
    return bounds


def unpriced_warnings(models: list[UnpricedModel]) -> list[str]:
    """Say which costs leave out unpriced requests, and how to price them."""
    return [
        f"unpriced: {counted(item.requests, 'request')} of {item.tool} "
        f"{item.model or '(no model)'} ({counted(item.tokens, 'token')}), counted here at $0; "
        f"{item.fix}"
        for item in models
    ]
