"""Price stored requests again, after a price override was added or the price data changed.

An ingest prices each request once. A request whose model had no price stays unpriced in the
ledger until this runs with a price book that has a price for the model. By default only unpriced
requests are read, through their partial index, so this is quick on any ledger. `everything`
prices every request again, which a changed negotiated rate calls for.

Each changed row gets a new `ingested_at`, so the reports' daily rollup rebuilds its days.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import bindparam, false, select, update

from headstart.ledger.db import Ledger
from headstart.ledger.events import UsageEvent
from headstart.ledger.models import UsageRecord, WorkOutcome, to_nanos, utcnow
from headstart.ledger.pricing import PriceBook, PriceResult
from headstart.ledger.usage_rows import with_priced_as

logger = logging.getLogger("headstart.ledger.reprice")

# Rows read and updated per transaction.
CHUNK = 5000


class RepriceReport(BaseModel):
    examined: int = Field(default=0, description="Requests priced again.")
    changed: int = Field(default=0, description="Requests whose cost, price or note changed.")
    newly_priced: int = Field(default=0, description="Requests unpriced before, priced now.")
    unpriced_models: dict[str, int] = Field(
        default_factory=dict, description="Requests still unpriced, per model ('' for none)."
    )
    outcomes_stale: bool = Field(
        default=False,
        description=(
            "Costs changed while `headstart report analyze` had stored outcomes: the verdict "
            "and before/after reports read their costs from those until it runs again."
        ),
    )


def reprice(ledger: Ledger, prices: PriceBook, *, everything: bool = False) -> RepriceReport:
    """Price the unpriced requests again (every request with `everything`); return the counts."""
    table = UsageRecord.__table__
    report = RepriceReport()
    still_unpriced: Counter[str] = Counter()
    columns = [
        table.c.id,
        table.c.tool,
        table.c.model,
        table.c.timestamp,
        table.c.input_tokens,
        table.c.cache_read_tokens,
        table.c.cache_write_5m_tokens,
        table.c.cache_write_1h_tokens,
        table.c.output_tokens,
        table.c.reasoning_tokens,
        table.c.computed_cost,
        table.c.priced,
        table.c.price_version,
        table.c.pricing_note,
        table.c.attributes,
    ]
    for rows in _chunks(ledger, columns, everything):
        updates = []
        now = utcnow()
        for row in rows:
            result = prices.price(_event(row))
            report.examined += 1
            if not result.priced:
                still_unpriced[row.model or ""] += 1
            changes = _changes(row, result, now)
            if changes is not None:
                updates.append(changes)
                report.newly_priced += int(result.priced and not row.priced)
        if updates:
            with ledger.session() as session:
                session.execute(_update_statement(), updates)
        report.changed += len(updates)

    report.unpriced_models = dict(still_unpriced.most_common())
    if report.changed:
        with ledger.session() as session:
            report.outcomes_stale = (
                session.execute(select(WorkOutcome.id).limit(1)).first() is not None
            )
    logger.info(
        "priced %d requests again: %d changed, %d newly priced",
        report.examined,
        report.changed,
        report.newly_priced,
    )
    return report


def _chunks(ledger: Ledger, columns: list[Any], everything: bool) -> Iterator[list[Any]]:
    """Yield the rows to price again, `CHUNK` at a time."""
    table = UsageRecord.__table__
    if not everything:
        # Unpriced requests are few, and this condition, the partial index's own, lets both
        # databases read them through ix_usage_records_unpriced alone.
        with ledger.session() as session:
            rows = session.execute(select(*columns).where(table.c.priced == false())).all()
        for start in range(0, len(rows), CHUNK):
            yield rows[start : start + CHUNK]
        return

    after = 0
    while True:
        statement = select(*columns).where(table.c.id > after).order_by(table.c.id).limit(CHUNK)
        with ledger.session() as session:
            rows = session.execute(statement).all()
        if not rows:
            return
        after = rows[-1].id
        yield rows


def _event(row: Any) -> UsageEvent:
    # Only what pricing reads; every value comes typed from the database.
    return UsageEvent.model_construct(
        source="ledger",
        dedup_key="",
        tool=row.tool,
        model=row.model,
        timestamp=row.timestamp,
        input_tokens=row.input_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_write_5m_tokens=row.cache_write_5m_tokens,
        cache_write_1h_tokens=row.cache_write_1h_tokens,
        output_tokens=row.output_tokens,
        reasoning_tokens=row.reasoning_tokens,
    )


def _changes(row: Any, result: PriceResult, now: datetime) -> dict[str, Any] | None:
    """Return the new values of a row priced as `result`, or None when nothing changes."""
    attributes = with_priced_as(dict(row.attributes or {}), row.model, result)
    same = (
        # Compared as stored: whole nano-dollars.
        to_nanos(row.computed_cost) == to_nanos(result.cost)
        and row.priced == result.priced
        and row.price_version == result.price_version
        and row.pricing_note == result.note
        and attributes == (row.attributes or {})
    )
    if same:
        return None
    return {
        "row_id": row.id,
        "new_cost": result.cost,
        "new_priced": result.priced,
        "new_version": result.price_version,
        "new_note": result.note,
        "new_attributes": attributes,
        "now": now,
    }


def _update_statement() -> Any:
    table = UsageRecord.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(
            computed_cost=bindparam("new_cost", type_=table.c.computed_cost.type),
            priced=bindparam("new_priced", type_=table.c.priced.type),
            price_version=bindparam("new_version", type_=table.c.price_version.type),
            pricing_note=bindparam("new_note", type_=table.c.pricing_note.type),
            attributes=bindparam("new_attributes", type_=table.c.attributes.type),
            ingested_at=bindparam("now", type_=table.c.ingested_at.type),
        )
    )
