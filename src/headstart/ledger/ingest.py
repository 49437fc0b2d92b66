"""Record usage events in the ledger: price, attribute, and upsert them by request.

Writing the same event twice changes nothing. A later read of the same request may carry more
tokens, because a streaming snapshot was completed after an earlier ingest. Then the record is
replaced by the larger one, so the ledger ends at the final counts in whatever order it reads.
A request read from two sources (a session log and OpenTelemetry) is one record; see
`usage_writes` for which read's values it keeps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any

from sqlalchemy import bindparam, case, or_, select, update
from sqlalchemy.orm import Session

from headstart.config import load_settings
from headstart.ledger.db import Ledger
from headstart.ledger.events import UsageEvent
from headstart.ledger.models import AgentSession, Engineer, SessionBrief, Team, utcnow
from headstart.ledger.pricing import PriceBook
from headstart.ledger.reads import merge_reads
from headstart.ledger.report import IngestReport
from headstart.ledger.store import ensure_rows, insert_for
from headstart.ledger.teams import TeamMap
from headstart.ledger.usage_rows import UsageRows
from headstart.ledger.usage_writes import changes_row, write_rows

__all__ = ["IngestReport", "record_events"]

logger = logging.getLogger("headstart.ledger.ingest")

# Events per transaction. Larger batches cost fewer commits and lookups. With this size the
# 200 MB benchmark tree (benchmarks/ledger_ingest.py) ingests in under 200 MB of peak RSS.
BATCH_SIZE = 10_000


@dataclass
class Attribution:
    prices: PriceBook
    teams: TeamMap


@lru_cache(maxsize=1)
def default_attribution() -> Attribution:
    settings = load_settings()
    return Attribution(PriceBook(settings.prices_file), TeamMap.load(settings.teams_file))


def record_events(
    ledger: Ledger,
    events: Iterable[UsageEvent],
    *,
    prices: PriceBook | None = None,
    teams: TeamMap | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Price, attribute and upsert `events`, and return what changed.

    Idempotent and safe under concurrent writers on SQLite and PostgreSQL: a request is found by
    its `dedup_key` or by its tool and request id, and both are unique in the table. Prices and teams default to the files named in
    Settings (`prices_file`, `teams_file`).
    """
    if prices is None or teams is None:
        defaults = default_attribution()
        prices = prices or defaults.prices
        teams = teams or defaults.teams
    report = report or IngestReport()
    for batch in _batches(events, BATCH_SIZE):
        with ledger.session() as session:
            _write_batch(session, batch, prices, teams, report)
    return report


def _batches(events: Iterable[UsageEvent], size: int) -> Iterator[list[UsageEvent]]:
    iterator = iter(events)
    while batch := list(islice(iterator, size)):
        yield batch


def _write_batch(
    session: Session,
    batch: list[UsageEvent],
    prices: PriceBook,
    teams: TeamMap,
    report: IngestReport,
) -> None:
    report.events += len(batch)
    events = merge_reads(batch)
    report.duplicates += len(batch) - len(events)

    team_names = {
        event.dedup_key: teams.team_for(event.team, event.engineer, event.repository)
        for event in events
    }
    team_ids = ensure_rows(
        session,
        Team.__table__,
        "name",
        [
            {"name": name, "created_at": utcnow()}
            for name in sorted({n for n in team_names.values() if n})
        ],
    )
    engineer_ids = _ensure_engineers(session, events, team_names, team_ids)
    session_ids = _ensure_sessions(session, events, engineer_ids, team_names, team_ids)

    results = [prices.price(event) for event in events]
    rows = UsageRows(engineer_ids, team_ids, team_names, session_ids, utcnow())
    inserted, stored = write_rows(session, events, results, rows)

    # Counted here and added once: the report is a pydantic model, slow to update per event.
    changed = updated = 0
    for event, result in zip(events, results, strict=True):
        if event.dedup_key in inserted:
            changed += 1
        elif event.dedup_key in stored and changes_row(event, stored[event.dedup_key]):
            changed += 1
            updated += 1
        else:
            continue
        if result.cost is None:
            report.count_unpriced(event.model)
    report.inserted += changed - updated
    report.updated += updated
    report.duplicates += len(events) - changed

    report.brief_links += _link_briefs(session, events, session_ids)


def _ensure_engineers(
    session: Session,
    events: list[UsageEvent],
    team_names: dict[str, str | None],
    team_ids: dict[Any, int],
) -> dict[Any, int]:
    rows: dict[str, dict[str, Any]] = {}
    now = utcnow()
    for event in events:
        if not event.engineer or event.engineer.strip().lower() in rows:
            continue
        identity = event.engineer.strip().lower()
        team = team_names.get(event.dedup_key)
        rows.setdefault(
            identity,
            {
                "identity": identity,
                "email": identity if "@" in identity else None,
                "team_id": team_ids.get(team) if team else None,
                "created_at": now,
            },
        )
    # Sorted, so concurrent writers take row locks in the same order and avoid deadlocks.
    return ensure_rows(session, Engineer.__table__, "identity", [rows[key] for key in sorted(rows)])


def _ensure_sessions(
    session: Session,
    events: list[UsageEvent],
    engineer_ids: dict[Any, int],
    team_names: dict[str, str | None],
    team_ids: dict[Any, int],
) -> dict[tuple[str, str], int]:
    """Create missing agent sessions and widen their first/last seen times."""
    spans: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        if not event.session_id:
            continue
        key = (event.tool, event.session_id)
        span = spans.get(key)
        if span is None:
            team = team_names.get(event.dedup_key)
            spans[key] = {
                "tool": event.tool,
                "external_id": event.session_id,
                "engineer_id": engineer_ids.get(event.engineer.strip().lower())
                if event.engineer
                else None,
                "team_id": team_ids.get(team) if team else None,
                "repository": event.repository,
                "branch": event.branch,
                "cwd": event.cwd,
                "first_seen": event.timestamp,
                "last_seen": event.timestamp,
            }
            continue
        span["first_seen"] = min(span["first_seen"], event.timestamp)
        span["last_seen"] = max(span["last_seen"], event.timestamp)
        for name in ("repository", "branch", "cwd"):
            span[name] = span[name] or getattr(event, name)
    if not spans:
        return {}

    table = AgentSession.__table__
    statement = insert_for(session, table).on_conflict_do_nothing(
        index_elements=["tool", "external_id"]
    )
    session.execute(statement, [spans[key] for key in sorted(spans)])

    ids: dict[tuple[str, str], int] = {}
    for tool in {tool for tool, _ in spans}:
        external = [external_id for t, external_id in spans if t == tool]
        found = session.execute(
            select(table.c.external_id, table.c.id).where(
                table.c.tool == tool, table.c.external_id.in_(external)
            )
        )
        ids.update({(tool, external_id): row_id for external_id, row_id in found})

    # One UPDATE for all sessions, widening only the spans that grew.
    first = bindparam("first", type_=table.c.first_seen.type)
    last = bindparam("last", type_=table.c.last_seen.type)
    earlier = or_(table.c.first_seen.is_(None), table.c.first_seen > first)
    later = or_(table.c.last_seen.is_(None), table.c.last_seen < last)
    widen = (
        update(table)
        .where(table.c.id == bindparam("session_row"))
        .where(or_(earlier, later))
        .values(
            first_seen=case((earlier, first), else_=table.c.first_seen),
            last_seen=case((later, last), else_=table.c.last_seen),
        )
    )
    session.execute(
        widen,
        [
            {
                "session_row": ids[key],
                "first": spans[key]["first_seen"],
                "last": spans[key]["last_seen"],
            }
            for key in sorted(spans)
        ],
    )
    return ids


def _link_briefs(
    session: Session, events: list[UsageEvent], session_ids: dict[tuple[str, str], int]
) -> int:
    links = {
        (session_ids[(event.tool, event.session_id)], brief_id)
        for event in events
        if event.brief_ids and event.session_id
        for brief_id in event.brief_ids
    }
    if not links:
        return 0
    table = SessionBrief.__table__
    statement = insert_for(session, table).on_conflict_do_nothing(
        index_elements=["session_id", "brief_id"]
    )
    session.execute(statement, [{"session_id": sid, "brief_id": bid} for sid, bid in sorted(links)])
    return len(links)
