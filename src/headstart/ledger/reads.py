"""Merge several reads of one request into the read the ledger keeps.

A request can be read more than once: Claude Code writes a response as several lines, each a
streaming snapshot with a growing output count, and a request can arrive both in a session log
and through OpenTelemetry. These functions pick the richer read the way `usage_writes` merges a
read into a stored row, so merging before the write and merging in SQL agree. They need no
database, so the parse workers use them too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from headstart.ledger.events import UsageEvent, token_total

# The source whose reads lose detail that the logs keep; any other source outranks it.
TELEMETRY_SOURCE = "otlp"


def source_rank(source: str) -> int:
    return 0 if source == TELEMETRY_SOURCE else 1


def richer(known: UsageEvent, event: UsageEvent, *, same_key: bool) -> UsageEvent:
    """Merge two reads of one request into the richer one, as the stored row would be."""
    tokens, rank = token_total(event), source_rank(event.source)
    known_tokens, known_rank = token_total(known), source_rank(known.source)
    if same_key:
        event_wins = tokens > known_tokens
    else:
        event_wins = tokens > known_tokens or (tokens == known_tokens and rank > known_rank)
    winner, other = (event, known) if event_wins else (known, event)

    changes: dict[str, Any] = {}
    if winner.reported_cost_usd is None and other.reported_cost_usd is not None:
        changes["reported_cost_usd"] = other.reported_cost_usd
    if source_rank(other.source) > source_rank(winner.source):
        changes["dedup_key"] = other.dedup_key
    if known.brief_ids or event.brief_ids:
        changes["brief_ids"] = sorted({*known.brief_ids, *event.brief_ids})
    return winner.model_copy(update=changes) if changes else winner


def merge_by_key(events: Iterable[UsageEvent]) -> dict[str, UsageEvent]:
    """Keep one read per dedup key: the one with the most tokens (the last streaming snapshot)."""
    by_key: dict[str, UsageEvent] = {}
    for event in events:
        known = by_key.get(event.dedup_key)
        by_key[event.dedup_key] = event if known is None else richer(known, event, same_key=True)
    return by_key


def merge_reads(batch: list[UsageEvent]) -> list[UsageEvent]:
    """Keep one event per request: per dedup key, then per tool and request id.

    Reads of one request from different sources are merged as `usage_writes` merges rows.
    The result is sorted by dedup key, so concurrent writers take row locks in one order.
    """
    by_request: dict[tuple[str, str], UsageEvent] = {}
    merged: list[UsageEvent] = []
    for event in merge_by_key(batch).values():
        if not event.request_id:
            merged.append(event)
            continue
        request = (event.tool, event.request_id)
        known = by_request.get(request)
        by_request[request] = event if known is None else richer(known, event, same_key=False)
    merged.extend(by_request.values())
    return sorted(merged, key=lambda event: event.dedup_key)
