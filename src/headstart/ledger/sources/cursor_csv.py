"""Read Cursor usage exports: the dashboard's CSV, or admin-API usage events saved as CSV.

Dashboard columns: Date, User, Kind, Model, Max Mode, Input (w/ Cache Write),
Input (w/o Cache Write), Cache Read, Output Tokens, Total Tokens, Cost. Cache writes are the
difference of the two input columns. Admin-API columns (timestamp, userEmail, model, kind,
inputTokens, outputTokens, cacheWriteTokens, cacheReadTokens, totalCents) are accepted too.
Rows carry no id, so a row's dedup key is a digest of its values plus how many identical rows
came before it in the file: importing an overlapping export again adds only the new rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from headstart.ledger.events import UsageEvent
from headstart.ledger.report import IngestReport
from headstart.ledger.sources.cursors import FileCursor
from headstart.ledger.sources.values import count, money, parse_time

READER = "cursor_csv"

COLUMNS = {
    "date": ("date", "timestamp"),
    "user": ("user", "email", "useremail", "user email"),
    "kind": ("kind",),
    "model": ("model",),
    "max_mode": ("max mode", "maxmode"),
    "input_with_writes": ("input (w/ cache write)",),
    "input_without_writes": ("input (w/o cache write)", "inputtokens", "input tokens"),
    "cache_writes": ("cachewritetokens", "cache write tokens", "cache write"),
    "cache_read": ("cache read", "cachereadtokens", "cache read tokens"),
    "output": ("output tokens", "outputtokens"),
    "cost": ("cost",),
    "cents": ("totalcents", "chargedcents", "total cents", "charged cents"),
}


def read(cursor: FileCursor, report: IngestReport) -> Iterator[UsageEvent]:
    """Yield one event per usage row; the whole file is read, dedup keys skip known rows."""
    raw = cursor.path.read_bytes()
    report.bytes_read += len(raw)
    text = raw.decode("utf-8-sig", errors="replace")
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    cursor.offset = len(raw)
    if not header:
        report.skip("empty CSV file", str(cursor.path))
        return

    index = _column_index(header)
    missing = [name for name in ("date", "model") if name not in index]
    if missing or not ({"input_without_writes", "output"} <= index.keys()):
        report.skip(
            f"not a Cursor usage export: no column for {', '.join(missing) or 'tokens'} "
            f"in header {header!r}",
            str(cursor.path),
        )
        return

    seen: Counter[str] = Counter()
    for number, row in enumerate(rows, start=2):
        where = f"{cursor.path}:{number}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            report.skip("CSV row with fewer cells than the header", where)
            continue
        event = _event({name: row[i].strip() for name, i in index.items()}, seen, where, report)
        if event is not None:
            yield event


def _column_index(header: list[str]) -> dict[str, int]:
    normalized = [cell.strip().lower() for cell in header]
    index = {}
    for name, aliases in COLUMNS.items():
        for position, cell in enumerate(normalized):
            if cell in aliases:
                index[name] = position
                break
    return index


def _event(
    cells: dict[str, str], seen: Counter[str], where: str, report: IngestReport
) -> UsageEvent | None:
    timestamp = parse_time(cells.get("date"))
    if timestamp is None:
        report.skip(f"invalid date {cells.get('date')!r}", where)
        return None

    uncached = count(cells.get("input_without_writes"))
    if "input_with_writes" in cells:
        writes = max(count(cells["input_with_writes"]) - uncached, 0)
    else:
        writes = count(cells.get("cache_writes"))

    reported: Decimal | None = money(cells.get("cost"))
    if reported is None and cells.get("cents"):
        cents = money(cells["cents"])
        reported = cents / 100 if cents is not None else None

    identity = json.dumps(sorted(cells.items()))
    seen[identity] += 1
    digest = hashlib.sha256(f"{identity}#{seen[identity]}".encode()).hexdigest()[:32]

    attributes: dict[str, Any] = {}
    for name in ("kind", "max_mode"):
        if cells.get(name):
            attributes[f"cursor.{name}"] = cells[name]
    if cells.get("cost") and reported is None:
        attributes["cursor.cost"] = cells["cost"]  # "Included", "Free": not a dollar amount

    return UsageEvent(
        source="cursor_csv",
        dedup_key=f"cursor:{digest}",
        tool="cursor",
        timestamp=timestamp,
        model=cells.get("model") or None,
        input_tokens=uncached,
        # Cursor does not say which cache TTL was used; the 5-minute default is assumed.
        cache_write_5m_tokens=writes,
        cache_read_tokens=count(cells.get("cache_read")),
        output_tokens=count(cells.get("output")),
        reported_cost_usd=reported,
        engineer=cells.get("user") or None,
        attributes=attributes,
    )
