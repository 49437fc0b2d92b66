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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
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
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from headstart.ledger.events import TOKEN_FIELDS, UsageEvent, token_total
from headstart.ledger.models import UsageRecord
from headstart.ledger.store import insert_for

# The source whose reads lose detail that the logs keep; any other source outranks it.
TELEMETRY_SOURCE = "otlp"
# Keys per lookup query, below SQLite's default limit of 32,766 bound parameters (since 3.32).
LOOKUP_CHUNK = 5000


def source_rank(source: str) -> int:
    return 0 if source == TELEMETRY_SOURCE else 1


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
    rows: list[dict[str, Any]],
) -> tuple[set[str], dict[str, StoredRequest]]:
    """Insert the rows of new requests and merge the others into their stored rows.

    `rows[i]` is the row of `events[i]`. Every row is offered to the insert, which skips the
    requests already stored (ON CONFLICT DO NOTHING), whoever stored them and whenever. Only
    the skipped ones are looked up and merged, so a first ingest, which finds none of its
    requests stored, runs no lookup at all. Returns the inserted dedup keys and the stored rows
    the remaining events were merged into.
    """
    table = UsageRecord.__table__
    inserted: set[str] = set()
    if rows and session.get_bind().dialect.name == "sqlite":
        inserted = _insert_sqlite(session, rows)
    elif rows:
        # No conflict target: a clash on the dedup key or on (tool, request_id) both skip.
        statement = insert_for(session, table).on_conflict_do_nothing()
        inserted = set(session.execute(statement.returning(table.c.dedup_key), rows).scalars())

    skipped = [event for event in events if event.dedup_key not in inserted]
    stored = find_stored(session, skipped) if skipped else {}

    merges = [
        _merge_parameters(row, stored[row["dedup_key"]])
        for row in rows
        if row["dedup_key"] not in inserted and row["dedup_key"] in stored
    ]
    if merges:
        session.execute(_merge_statement(), merges)
    return inserted, stored


def _insert_sqlite(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert `rows` unless their request is stored (ON CONFLICT DO NOTHING); return their keys.

    The same statement as on PostgreSQL, run as one DB-API `executemany` with the columns'
    own bind processors. SQLAlchemy's executemany with RETURNING spent twice SQLite's time
    preparing parameters, and it took more than a quarter of the writing process's time.

    SQLite has one writer at a time, and the statement holds the write lock until the commit.
    When fewer rows than given went in, another writer stored some of the requests first. The
    rows this statement inserted then have the highest ids: an INTEGER PRIMARY KEY takes the
    largest id plus one.
    """
    connection = session.connection()
    sql, values_of, processors = _sqlite_insert(connection.dialect, tuple(rows[0]))
    parameters = []
    # Rows of one batch share some values (`ingested_at`), so the last conversion is reused.
    last: dict[int, tuple[Any, Any]] = {}
    for row in rows:
        values = list(values_of(row))
        for index, process in processors:
            value = values[index]
            seen = last.get(index)
            if seen is not None and seen[0] is value:
                values[index] = seen[1]
                continue
            values[index] = converted = process(value)
            last[index] = (value, converted)
        parameters.append(tuple(values))
    count = connection.exec_driver_sql(sql, parameters).rowcount
    if count == len(rows):
        return {row["dedup_key"] for row in rows}

    table = UsageRecord.__table__
    last = session.execute(select(func.max(table.c.id))).scalar() or 0
    found = session.execute(select(table.c.dedup_key).where(table.c.id > last - count))
    return set(found.scalars())


@lru_cache(maxsize=8)
def _sqlite_insert(
    dialect: Any, names: tuple[str, ...]
) -> tuple[
    str, Callable[[dict[str, Any]], tuple[Any, ...]], list[tuple[int, Callable[[Any], Any]]]
]:
    """Compile the INSERT of usage rows with columns `names` for SQLite, once per column set.

    Returns the SQL, a function giving a row's values in the statement's order, and the
    (position, bind processor) of each column whose values SQLAlchemy would convert.
    """
    table = UsageRecord.__table__
    statement = sqlite.insert(table).on_conflict_do_nothing()
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    order = list(compiled.positiontup or [])
    processors = []
    for index, name in enumerate(order):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((index, process))
    return str(compiled), itemgetter(*order), processors


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
