"""Send locally ingested usage records to a central Headstart server.

Records go as JSON lists of `UsageEvent` to `POST {server}/v1/ledger/events`, in id order.
After each accepted batch the last pushed id is stored per server, so the next push sends only
newer records. The server upserts by dedup key, so a batch sent twice is harmless.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from headstart.ledger.db import Ledger
from headstart.ledger.errors import LedgerError, LedgerInputError
from headstart.ledger.events import UsageEvent
from headstart.ledger.models import (
    AgentSession,
    Engineer,
    PushCursor,
    SessionBrief,
    Team,
    UsageRecord,
)

logger = logging.getLogger("headstart.ledger.push")

EVENTS_PATH = "/v1/ledger/events"


class PushReport(BaseModel):
    """The result of a push: records, batches, and the last record id now on the server."""

    server: str
    records: int = 0
    batches: int = 0
    last_record_id: int = 0


def _events_from_rows(session: Session, rows: list[Any]) -> list[UsageEvent]:
    session_ids = {row.UsageRecord.session_id for row in rows if row.UsageRecord.session_id}
    briefs: dict[int, list[str]] = {}
    if session_ids:
        for session_id, brief_id in session.execute(
            select(SessionBrief.session_id, SessionBrief.brief_id).where(
                SessionBrief.session_id.in_(session_ids)
            )
        ):
            briefs.setdefault(session_id, []).append(brief_id)

    events = []
    sent_briefs: set[int] = set()
    for row in rows:
        record: UsageRecord = row.UsageRecord
        brief_ids: list[str] = []
        # A session's brief links travel once per batch, on its first record.
        if record.session_id in briefs and record.session_id not in sent_briefs:
            brief_ids = sorted(briefs[record.session_id])
            sent_briefs.add(record.session_id)
        attributes = dict(record.attributes or {})
        events.append(
            UsageEvent(
                source=record.source,
                dedup_key=record.dedup_key,
                tool=record.tool,
                timestamp=record.timestamp,
                model=record.model,
                session_id=row.external_id,
                request_id=record.request_id,
                input_tokens=record.input_tokens,
                cache_read_tokens=record.cache_read_tokens,
                cache_write_5m_tokens=record.cache_write_5m_tokens,
                cache_write_1h_tokens=record.cache_write_1h_tokens,
                output_tokens=record.output_tokens,
                reasoning_tokens=record.reasoning_tokens,
                reported_cost_usd=record.reported_cost,
                engineer=row.identity,
                team=row.team,
                organization=record.organization,
                repository=record.repository,
                branch=record.branch,
                cwd=attributes.pop("cwd", None),
                brief_ids=brief_ids,
                attributes=attributes,
            )
        )
    return events


def push(
    ledger: Ledger,
    server: str,
    token: str | None = None,
    *,
    batch_size: int = 500,
    client: httpx.Client | None = None,
) -> PushReport:
    """Push records not yet sent to `server`; raise `LedgerError` if the server rejects a batch."""
    base = server.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise LedgerInputError(
            f"invalid server URL {server!r}: expected http://HOST[:PORT] or https://…"
        )
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    report = PushReport(server=base)
    owns_client = client is None
    client = client or httpx.Client(timeout=60.0)

    try:
        while True:
            with ledger.session() as session:
                cursor = session.get(PushCursor, base)
                after = cursor.last_record_id if cursor else 0
                rows = session.execute(
                    select(
                        UsageRecord,
                        AgentSession.external_id,
                        Engineer.identity,
                        Team.name.label("team"),
                    )
                    .outerjoin(AgentSession, AgentSession.id == UsageRecord.session_id)
                    .outerjoin(Engineer, Engineer.id == UsageRecord.engineer_id)
                    .outerjoin(Team, Team.id == UsageRecord.team_id)
                    .where(UsageRecord.id > after)
                    .order_by(UsageRecord.id)
                    .limit(batch_size)
                ).all()
                if not rows:
                    break
                events = _events_from_rows(session, rows)

            _post(client, base, headers, events)

            last_id = rows[-1].UsageRecord.id
            with ledger.session() as session:
                cursor = session.get(PushCursor, base)
                if cursor is None:
                    session.add(PushCursor(server=base, last_record_id=last_id))
                else:
                    cursor.last_record_id = last_id
            report.records += len(events)
            report.batches += 1
            report.last_record_id = last_id
    finally:
        if owns_client:
            client.close()

    logger.info("pushed %d records to %s in %d batches", report.records, base, report.batches)
    return report


def _post(
    client: httpx.Client, base: str, headers: dict[str, str], events: list[UsageEvent]
) -> None:
    url = base + EVENTS_PATH
    body = [event.model_dump(mode="json") for event in events]
    try:
        response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise LedgerError(
            f"cannot reach {url!r}: {exc}; check the server URL and that it is running"
        ) from exc

    if response.status_code == 401:
        raise LedgerError(
            f"{url!r} rejected the token (401): pass the server's api_token with --token"
        )
    if response.status_code >= 300:
        raise LedgerError(
            f"{url!r} rejected the batch with HTTP {response.status_code}: {response.text[:300]!r}"
        )
    try:
        result = response.json()
    except ValueError:
        return
    if isinstance(result, dict) and result.get("rejected"):
        raise LedgerError(
            f"{url!r} rejected {result['rejected']} of {len(events)} events: {result.get('examples')!r}"
        )
