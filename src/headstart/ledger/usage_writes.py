"""Write usage rows: insert new requests, and merge a request read again or from another source.

A request is the same one when its `dedup_key` matches a row, or when its tool and request id do
(`uq_usage_records_tool_request`). The second case joins a Claude Code request seen both in the
session log (keyed by message id) and in OpenTelemetry (keyed by request id). When a request is
read again, the richer read wins, judged in SQL so concurrent writers cannot undo each other:

- tokens: the read with more tokens, and on a tie a log over OpenTelemetry, because the log
  splits cache writes by TTL and OpenTelemetry books them all as 5-minute writes. `source`
  names the reader the tokens came from;
- reported cost: kept once any source reported one (only OpenTelemetry and Cursor do);
- dedup key: a log's, so that later lines of the same response (a subagent's replay under
  another request id, say) still find the row.

NOTE: a row stores one request id. When a subagent's replay of a response (same message id, new
request id) is read before the parent's line, the row keeps the replay's request id, and the
parent's OpenTelemetry event then adds a second row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from headstart.ledger.events import TOKEN_FIELDS, UsageEvent, token_total
from headstart.ledger.models import UsageRecord
from headstart.ledger.pricing import PriceResult
from headstart.ledger.reads import TELEMETRY_SOURCE, source_rank
from headstart.ledger.store import insert_for
from headstart.ledger.usage_rows import ROW_COLUMNS, UsageRows

# Keys per lookup query, below SQLite's default limit of 32,766 bound parameters (since 3.32).
LOOKUP_CHUNK = 5000


@dataclass(frozen=True)
class StoredRequest:
    """The parts of a stored row that decide whether a new read of its request changes it."""

    row_id: int
    dedup_key: str
    tokens: int
    rank: int
    has_reported_cost: bool


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def _stored_columns() -> tuple[Any, ...]:
    table = UsageRecord.__table__
    tokens = sum((table.c[name] for name in TOKEN_FIELDS[1:]), table.c[TOKEN_FIELDS[0]])
    return (
        table.c.id,
        table.c.dedup_key,
        table.c.tool,
        table.c.request_id,
        tokens,
        table.c.source,
        table.c.reported_cost.is_not(None),
    )


def _stored_where_in(session: Session, column: str, values: list[str]) -> Iterable[Any]:
    """Select the `_stored_columns` of the rows whose `column` is one of `values`."""
    table = UsageRecord.__table__
    if session.get_bind().dialect.name != "sqlite":
        return session.execute(select(*_stored_columns()).where(table.c[column].in_(values)))

    # The same query with its placeholders written out: SQLAlchemy's expanding IN took
    # microseconds per value, and a first ingest looks up every request it reads.
    connection = session.connection()
    placeholders = ",".join("?" * len(values))
    sql = f"{_sqlite_select(connection.dialect)} WHERE {table.name}.{column} IN ({placeholders})"
    return connection.exec_driver_sql(sql, tuple(values))


@lru_cache(maxsize=4)
def _sqlite_select(dialect: Any) -> str:
    return str(select(*_stored_columns()).compile(dialect=dialect))


def find_stored(session: Session, events: list[UsageEvent]) -> dict[str, StoredRequest]:
    """Return the stored row of each event's request, by dedup key first, then by request id."""
    by_key: dict[str, StoredRequest] = {}
    by_request: dict[tuple[str, str], StoredRequest] = {}

    def remember(rows: Iterable[Any]) -> None:
        for row_id, key, tool, request_id, total, source, has_cost in rows:
            stored = StoredRequest(row_id, key, int(total), source_rank(source), bool(has_cost))
            by_key[key] = stored
            if request_id is not None:
                by_request[(tool, request_id)] = stored

    keys = [event.dedup_key for event in events]
    for chunk in _chunks(keys):
        remember(_stored_where_in(session, "dedup_key", chunk))
    request_ids = sorted({event.request_id for event in events if event.request_id})
    for chunk in _chunks(request_ids):
        remember(_stored_where_in(session, "request_id", chunk))

    found: dict[str, StoredRequest] = {}
    for event in events:
        stored = by_key.get(event.dedup_key)
        if stored is None and event.request_id:
            stored = by_request.get((event.tool, event.request_id))
        if stored is not None:
            found[event.dedup_key] = stored
    return found


def changes_row(event: UsageEvent, stored: StoredRequest) -> bool:
    """Tell whether writing `event` over its stored request changes anything."""
    tokens = token_total(event)
    rank = source_rank(event.source)
    if tokens > stored.tokens or rank > stored.rank:
        return True
    return event.reported_cost_usd is not None and not stored.has_reported_cost


def write_rows(
    session: Session,
    events: list[UsageEvent],
    results: list[PriceResult],
    rows: UsageRows,
) -> tuple[set[str], dict[str, StoredRequest]]:
    """Insert the rows of new requests and merge the others into their stored rows.

    `results[i]` is the price of `events[i]`, and `rows` builds their rows. Every row is
    offered to the insert, which skips the requests already stored (ON CONFLICT DO NOTHING),
    whichever writer stored them, and when. Only the skipped ones are looked up and merged, so a
    first ingest, which finds none of its requests stored, runs no lookup at all. Returns the
    inserted dedup keys and the stored rows the remaining events were merged into.
    """
    table = UsageRecord.__table__
    priced = list(zip(events, results, strict=True))
    inserted: set[str] = set()
    if priced and _bulk_sqlite(session):
        values = [rows.sqlite_values(event, result) for event, result in priced]
        inserted = _insert_sqlite(session, values, [event.dedup_key for event in events])
    elif priced:
        # No conflict target: a clash on the dedup key or on (tool, request_id) both skip.
        statement = insert_for(session, table).on_conflict_do_nothing()
        dicts = [rows.row(event, result) for event, result in priced]
        inserted = set(session.execute(statement.returning(table.c.dedup_key), dicts).scalars())

    skipped = [event for event in events if event.dedup_key not in inserted]
    stored = find_stored(session, skipped) if skipped else {}

    merges = [
        _merge_parameters(rows.row(event, result), stored[event.dedup_key])
        for event, result in priced
        if event.dedup_key not in inserted and event.dedup_key in stored
    ]
    if merges:
        session.execute(_merge_statement(), merges)
    return inserted, stored


def _bulk_sqlite(session: Session) -> bool:
    """Tell whether rows go in through `_insert_sqlite`: on SQLite, always."""
    return session.get_bind().dialect.name == "sqlite"


def _insert_sqlite(session: Session, values: list[tuple[Any, ...]], keys: list[str]) -> set[str]:
    """Insert rows unless their request is stored (ON CONFLICT DO NOTHING); return their keys.

    `values` are `UsageRows.sqlite_values`, and `keys[i]` is the dedup key of `values[i]`. It is
    the statement SQLAlchemy compiles for SQLite, run as one DB-API `executemany`. SQLAlchemy's
    executemany with RETURNING spent twice SQLite's time preparing parameters.

    SQLite has one writer at a time, and the statement holds the write lock until the commit.
    When fewer rows than given went in, another writer stored some of the requests first. The
    rows this statement inserted then have the highest ids: an INTEGER PRIMARY KEY takes the
    largest id plus one.
    """
    count = session.connection().exec_driver_sql(_sqlite_insert(), values).rowcount
    if count == len(values):
        return set(keys)

    table = UsageRecord.__table__
    last = session.execute(select(func.max(table.c.id))).scalar() or 0
    found = session.execute(select(table.c.dedup_key).where(table.c.id > last - count))
    return set(found.scalars())


@lru_cache(maxsize=1)
def _sqlite_insert() -> str:
    table = UsageRecord.__table__.name
    columns = ", ".join(ROW_COLUMNS)
    placeholders = ", ".join("?" * len(ROW_COLUMNS))
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"


MERGED_COLUMNS = (
    *TOKEN_FIELDS,
    "computed_cost",
    "priced",
    "price_version",
    "pricing_note",
    "ingested_at",
)


def _merge_parameters(row: dict[str, Any], stored: StoredRequest) -> dict[str, Any]:
    parameters = {f"new_{name}": row[name] for name in MERGED_COLUMNS}
    parameters.update(
        target_id=stored.row_id,
        new_tokens=sum(row[name] for name in TOKEN_FIELDS),
        new_rank=source_rank(row["source"]),
        new_dedup_key=row["dedup_key"],
        new_source=row["source"],
        new_reported_cost=row["reported_cost"],
        has_reported_cost=row["reported_cost"] is not None,
    )
    return parameters


def _merge_statement() -> Any:
    """Build the UPDATE that merges one read into its stored row. Its conditions run in SQL."""
    table = UsageRecord.__table__
    other = table.alias("other")
    old_tokens = sum((table.c[name] for name in TOKEN_FIELDS[1:]), table.c[TOKEN_FIELDS[0]])
    old_rank = case((table.c.source == TELEMETRY_SOURCE, 0), else_=1)
    new_tokens = bindparam("new_tokens", type_=BigInteger())
    new_rank = bindparam("new_rank", type_=Integer())
    new_reported_cost = bindparam("new_reported_cost", type_=table.c.reported_cost.type)
    has_reported_cost = bindparam("has_reported_cost", type_=Boolean())
    new_key = bindparam("new_dedup_key", type_=table.c.dedup_key.type)

    richer = or_(new_tokens > old_tokens, and_(new_tokens == old_tokens, new_rank > old_rank))
    # A log's read gives its dedup key to a row whose tokens came from telemetry, unless another
    # row already has that key.
    promote = and_(
        new_rank > old_rank,
        or_(table.c.dedup_key == new_key, ~exists().where(other.c.dedup_key == new_key)),
    )
    fills_cost = and_(has_reported_cost, table.c.reported_cost.is_(None))

    values: dict[str, Any] = {
        name: case(
            (richer, bindparam(f"new_{name}", type_=table.c[name].type)), else_=table.c[name]
        )
        for name in MERGED_COLUMNS
    }
    values["reported_cost"] = case(
        (richer, func.coalesce(new_reported_cost, table.c.reported_cost)),
        else_=func.coalesce(table.c.reported_cost, new_reported_cost),
    )
    values["dedup_key"] = case((promote, new_key), else_=table.c.dedup_key)
    new_source = bindparam("new_source", type_=table.c.source.type)
    values["source"] = case((richer, new_source), else_=table.c.source)
    return (
        update(table)
        .where(table.c.id == bindparam("target_id"))
        .where(or_(richer, promote, fills_cost))
        .values(values)
    )
