"""Find the requests in a report's period and filters whose model had no price.

Their tokens are counted, but their cost is unknown, so a report that sums costs names them
beside its figures. They are read through the partial index of unpriced requests.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import false, func, select
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


def unpriced_notice(session: Session, query: ReportQuery) -> dict[str, Any]:
    """Return the `UnpricedNotice` fields of a report over `query`."""
    models = unpriced_models(session, query)
    return {"unpriced": models, "warnings": unpriced_warnings(models)}


def unpriced_models(session: Session, query: ReportQuery) -> list[UnpricedModel]:
    """Return each tool and model with unpriced requests in `query`, most requests first."""
    table = UsageRecord.__table__
    # The condition of ix_usage_records_unpriced, written the same way so it is used.
    statement = select(
        table.c.tool, table.c.model, func.count(), func.sum(token_sum(table.c))
    ).where(table.c.priced == false())
    if query.start is not None:
        statement = statement.where(table.c.timestamp >= query.start)
    if query.end is not None:
        statement = statement.where(table.c.timestamp < query.end)
    statement = statement.where(*group_filters(session, query)(table.c))

    rows = session.execute(statement.group_by(table.c.tool, table.c.model)).all()
    found = [
        UnpricedModel(
            tool=tool,
            model=model,
            requests=requests,
            tokens=int(tokens or 0),
            fix=unpriced_fix(model),
        )
        for tool, model, requests, tokens in rows
    ]
    return sorted(found, key=lambda item: (-item.requests, item.tool, item.model or ""))


def unpriced_warnings(models: list[UnpricedModel]) -> list[str]:
    """Say which costs leave out unpriced requests, and how to price them."""
    return [
        f"unpriced: {counted(item.requests, 'request')} of {item.tool} "
        f"{item.model or '(no model)'} ({counted(item.tokens, 'token')}), counted here at $0; "
        f"{item.fix}"
        for item in models
    ]
