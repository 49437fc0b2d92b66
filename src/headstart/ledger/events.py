"""Usage events: what every telemetry reader produces and the ledger stores.

Token fields follow one convention whatever the source: `input_tokens` is uncached input only,
cache reads and writes are separate, and `output_tokens` includes reasoning tokens (which are
also reported alone in `reasoning_tokens`). Readers convert their source's convention into this
one; nothing downstream converts again.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field


class UsageEvent(BaseModel):
    """One billed model request, as read from a log line, an OTLP event or a CSV row."""

    source: str = Field(description="Reader that produced it, e.g. 'claude_code_log', 'otlp'.")
    dedup_key: str = Field(description="Stable key: the same request read twice has the same key.")
    tool: str = Field(description="Coding tool: claude_code, codex, gemini_cli, cursor, …")
    timestamp: datetime
    model: str | None = None
    session_id: str | None = None
    request_id: str | None = None

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    reported_cost_usd: Decimal | None = None

    engineer: str | None = None
    team: str | None = None
    organization: str | None = None
    repository: str | None = None
    branch: str | None = None
    cwd: str | None = None
    brief_ids: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens


TOKEN_FIELDS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def token_total(event: UsageEvent) -> int:
    """Return all tokens of an event; a later streaming snapshot of a response has more."""
    return (
        event.input_tokens
        + event.cache_read_tokens
        + event.cache_write_5m_tokens
        + event.cache_write_1h_tokens
        + event.output_tokens
        + event.reasoning_tokens
    )
