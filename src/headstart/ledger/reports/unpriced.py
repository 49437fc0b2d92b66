"""Find the requests in a report's period and filters whose model had no price.

Their tokens are counted, but their cost is unknown, so a report that sums costs names them
beside its figures. They are read through the partial index of unpriced requests.
"""

from __future__ import annotations

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from headstart.ledger.models import UsageRecord
from headstart.ledger.pricing import unpriced_fix
from headstart.ledger.reports.query import ReportQuery
from headstart.ledger.reports.sql import engineer_id, repository_values, team_id, token_sum
from headstart.ledger.summary import UnpricedModel
from headstart.text import counted


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
    team, engineer = team_id(session, query.team), engineer_id(session, query.engineer)
    if team is not None:
        statement = statement.where(table.c.team_id == team)
    if engineer is not None:
        statement = statement.where(table.c.engineer_id == engineer)
    if query.tool is not None:
        statement = statement.where(table.c.tool == query.tool)
    if query.model is not None:
        statement = statement.where(table.c.model == query.model)
    if repositories := repository_values(query.repository):
        statement = statement.where(table.c.repository.in_(repositories))

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
