"""Turn priced and attributed usage events into rows of `usage_records`.

A row is a dict of Python values for SQLAlchemy, or, for the SQLite bulk insert, a tuple of
the values SQLite stores, in `ROW_COLUMNS` order. The tuple is built straight from the event:
building the dict and converting its values took a quarter of a first ingest's writing time.
tests/ledger/test_usage_rows.py checks that both forms store the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from headstart.ledger.events import TOKEN_FIELDS, UsageEvent
from headstart.ledger.pricing import PriceResult
from headstart.ledger.sqlite_values import json_text, to_nanos, utc_text

ROW_COLUMNS = (
    "dedup_key",
    "source",
    "tool",
    "model",
    "timestamp",
    "session_id",
    "request_id",
    *TOKEN_FIELDS,
    "reported_cost",
    "computed_cost",
    "priced",
    "price_version",
    "pricing_note",
    "engineer_id",
    "team_id",
    "organization",
    "repository",
    "branch",
    "attributes",
    "ingested_at",
)


@dataclass
class UsageRows:
    """Builds the rows of one batch, given the ids its engineers, teams and sessions got."""

    engineer_ids: dict[Any, int]
    team_ids: dict[Any, int]
    # Team name per dedup key.
    team_names: dict[str, str | None]
    session_ids: dict[tuple[str, str], int]
    now: datetime
    _now_text: str | None = field(default=None, init=False)

    def row(self, event: UsageEvent, result: PriceResult) -> dict[str, Any]:
        return {
            "dedup_key": event.dedup_key,
            "source": event.source,
            "tool": event.tool,
            "model": event.model,
            "timestamp": event.timestamp,
            "session_id": self._session_id(event),
            "request_id": event.request_id,
            "input_tokens": event.input_tokens,
            "cache_read_tokens": event.cache_read_tokens,
            "cache_write_5m_tokens": event.cache_write_5m_tokens,
            "cache_write_1h_tokens": event.cache_write_1h_tokens,
            "output_tokens": event.output_tokens,
            "reasoning_tokens": event.reasoning_tokens,
            "reported_cost": event.reported_cost_usd,
            "computed_cost": result.cost,
            "priced": result.priced,
            "price_version": result.price_version,
            "pricing_note": result.note,
            "engineer_id": self._engineer_id(event),
            "team_id": self._team_id(event),
            "organization": event.organization,
            "repository": event.repository,
            "branch": event.branch,
            "attributes": _attributes(event, result),
            "ingested_at": self.now,
        }

    def sqlite_values(self, event: UsageEvent, result: PriceResult) -> tuple[Any, ...]:
        """Return what SQLite stores for `row(event, result)`, in `ROW_COLUMNS` order."""
        if self._now_text is None:
            self._now_text = utc_text(self.now)
        # Python's sqlite3 binds True and False as 1 and 0, as SQLAlchemy's Boolean does.
        return (
            event.dedup_key,
            event.source,
            event.tool,
            event.model,
            utc_text(event.timestamp),
            self._session_id(event),
            event.request_id,
            event.input_tokens,
            event.cache_read_tokens,
            event.cache_write_5m_tokens,
            event.cache_write_1h_tokens,
            event.output_tokens,
            event.reasoning_tokens,
            to_nanos(event.reported_cost_usd),
            to_nanos(result.cost),
            result.cost is not None,
            result.price_version,
            result.note,
            self._engineer_id(event),
            self._team_id(event),
            event.organization,
            event.repository,
            event.branch,
            json_text(_attributes(event, result)),
            self._now_text,
        )

    def _session_id(self, event: UsageEvent) -> int | None:
        if not event.session_id:
            return None
        return self.session_ids.get((event.tool, event.session_id))

    def _engineer_id(self, event: UsageEvent) -> int | None:
        if not event.engineer:
            return None
        return self.engineer_ids.get(event.engineer.strip().lower())

    def _team_id(self, event: UsageEvent) -> int | None:
        team = self.team_names.get(event.dedup_key)
        return self.team_ids.get(team) if team else None


def _attributes(event: UsageEvent, result: PriceResult) -> dict[str, Any]:
    attributes = dict(event.attributes)
    if event.cwd:
        attributes.setdefault("cwd", event.cwd)
    return with_priced_as(attributes, event.model, result)


def with_priced_as(
    attributes: dict[str, Any], model: str | None, result: PriceResult
) -> dict[str, Any]:
    """Set `priced_as` in `attributes` to the model `result` priced as, unless that is `model`.

    Changes `attributes` and returns it.
    """
    if result.priced_as and result.priced_as != model:
        attributes["priced_as"] = result.priced_as
    else:
        attributes.pop("priced_as", None)
    return attributes
