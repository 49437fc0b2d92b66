"""Queries and test data shared by ledger tests."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from headstart.ledger.db import Ledger
from headstart.ledger.events import UsageEvent
from headstart.ledger.models import UsageRecord


def totals(ledger: Ledger, tool: str | None = None) -> dict[str, Any]:
    """Sum the token columns and computed cost of all records (of one tool)."""
    query = select(
        func.count(),
        func.coalesce(func.sum(UsageRecord.input_tokens), 0),
        func.coalesce(func.sum(UsageRecord.cache_read_tokens), 0),
        func.coalesce(func.sum(UsageRecord.cache_write_5m_tokens), 0),
        func.coalesce(func.sum(UsageRecord.cache_write_1h_tokens), 0),
        func.coalesce(func.sum(UsageRecord.output_tokens), 0),
        func.coalesce(func.sum(UsageRecord.reasoning_tokens), 0),
        func.sum(UsageRecord.computed_cost),
    )
    if tool:
        query = query.where(UsageRecord.tool == tool)
    with ledger.session() as session:
        row = session.execute(query).one()
    names = (
        "requests",
        "input",
        "cache_read",
        "cache_write_5m",
        "cache_write_1h",
        "output",
        "reasoning",
    )
    result: dict[str, Any] = {name: int(value) for name, value in zip(names, row[:7], strict=True)}
    result["cost"] = row[7] if row[7] is not None else Decimal(0)
    return result


def records(ledger: Ledger) -> list[UsageRecord]:
    with ledger.session() as session:
        return list(session.scalars(select(UsageRecord).order_by(UsageRecord.id)))


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line, separators=(",", ":")) + "\n")
    return path


def claude_line(
    message_id: str | None,
    request_id: str | None,
    *,
    model: str = "test-sonnet",
    session: str = "s-1",
    timestamp: str = "2026-11-02T10:00:00.000Z",
    sidechain: bool = False,
    content: list[dict[str, Any]] | None = None,
    uuid: str | None = None,
    **usage: Any,
) -> dict[str, Any]:
    """Build a Claude Code assistant line; keyword arguments become usage fields."""
    line: dict[str, Any] = {
        "type": "assistant",
        "sessionId": session,
        "timestamp": timestamp,
        "cwd": "/nonexistent/project",
        "gitBranch": "main",
        "version": "2.1.0",
        "isSidechain": sidechain,
        "uuid": uuid or secrets.token_hex(8),
        "message": {
            "model": model,
            "role": "assistant",
            "content": content or [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": 0, "output_tokens": 0, **usage},
        },
    }
    if message_id is not None:
        line["message"]["id"] = message_id
    if request_id is not None:
        line["requestId"] = request_id
    return line


def usage_event(**changes: Any) -> UsageEvent:
    """Build a priced Claude Code request with every kind of token; keywords change fields."""
    values: dict[str, Any] = {
        "source": "claude_code_log",
        "dedup_key": "claude_code:msg:a",
        "tool": "claude_code",
        "timestamp": datetime(2026, 11, 2, 10, 0, 0, 123456, tzinfo=UTC),
        "model": "test-sonnet",
        "session_id": "s-1",
        "request_id": "r-a",
        "input_tokens": 3,
        "cache_read_tokens": 1000,
        "cache_write_5m_tokens": 20,
        "cache_write_1h_tokens": 30,
        "output_tokens": 400,
        "engineer": "dev@example.com",
        "attributes": {"is_sidechain": False, "nested": {"a": [1, 2]}},
        "brief_ids": ["hsb_0123456789abcdef"],
    }
    values.update(changes)
    return UsageEvent(**values)
