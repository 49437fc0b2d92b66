"""Totals of the ledger by tool and model, and the models that still need a price."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import case, func, select

from headstart.ledger.db import Ledger
from headstart.ledger.models import UsageRecord
from headstart.ledger.pricing import unpriced_fix


class UsageTotal(BaseModel):
    """Summed usage of one tool and model."""

    tool: str
    model: str | None
    requests: int
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    computed_cost: Decimal
    reported_cost: Decimal | None
    unpriced_requests: int


class UnpricedModel(BaseModel):
    """A model with requests the ledger could not price, and how to fix that."""

    tool: str
    model: str | None
    requests: int
    tokens: int
    fix: str


class LedgerSummary(BaseModel):
    totals: list[UsageTotal]
    unpriced: list[UnpricedModel]

    @property
    def computed_cost(self) -> Decimal:
        return sum((total.computed_cost for total in self.totals), Decimal(0))


def summarize(ledger: Ledger) -> LedgerSummary:
    """Sum every usage record by tool and model."""
    record = UsageRecord
    tokens = (
        record.input_tokens
        + record.cache_read_tokens
        + record.cache_write_5m_tokens
        + record.cache_write_1h_tokens
        + record.output_tokens
    )
    query = (
        select(
            record.tool,
            record.model,
            func.count(),
            func.sum(record.input_tokens),
            func.sum(record.cache_read_tokens),
            func.sum(record.cache_write_5m_tokens + record.cache_write_1h_tokens),
            func.sum(record.output_tokens),
            func.sum(record.reasoning_tokens),
            func.sum(record.computed_cost),
            func.sum(record.reported_cost),
            func.sum(case((record.priced.is_(False), 1), else_=0)),
            func.sum(case((record.priced.is_(False), tokens), else_=0)),
            func.max(record.pricing_note),
        )
        .group_by(record.tool, record.model)
        .order_by(record.tool, record.model)
    )

    totals: list[UsageTotal] = []
    unpriced: list[UnpricedModel] = []
    with ledger.session() as session:
        for row in session.execute(query):
            (
                tool,
                model,
                requests,
                inp,
                read,
                write,
                out,
                reasoning,
                cost,
                reported,
                missing,
                missing_tokens,
                note,
            ) = row
            totals.append(
                UsageTotal(
                    tool=tool,
                    model=model,
                    requests=requests,
                    input_tokens=int(inp or 0),
                    cache_read_tokens=int(read or 0),
                    cache_write_tokens=int(write or 0),
                    output_tokens=int(out or 0),
                    reasoning_tokens=int(reasoning or 0),
                    computed_cost=cost or Decimal(0),
                    reported_cost=reported,
                    unpriced_requests=int(missing or 0),
                )
            )
            if missing:
                unpriced.append(
                    UnpricedModel(
                        tool=tool,
                        model=model,
                        requests=int(missing),
                        tokens=int(missing_tokens or 0),
                        fix=note or unpriced_fix(model),
                    )
                )
    return LedgerSummary(totals=totals, unpriced=unpriced)
