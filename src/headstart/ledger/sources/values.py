"""Lenient conversions for values read from logs, where numbers may arrive as strings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


def count(value: Any) -> int:
    """Return a token count: numbers and numeric strings as int, anything else (or < 0) as 0."""
    if type(value) is int:  # the common case, checked first because this runs per line
        return max(0, value)
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return max(value, 0)
    try:
        return max(int(float(str(value).replace(",", "").strip())), 0)
    except ValueError:
        return 0


def invalid_count(value: Any) -> bool:
    """Tell whether a token count is present but not a number `count` can read (`"lots"`, a list).

    Missing counts (None) are zero, not invalid.
    """
    if value is None or (type(value) is int and value >= 0):
        return False
    if isinstance(value, (bool, dict, list)):
        return True
    try:
        return float(str(value).replace(",", "").strip()) < 0
    except ValueError:
        return True


def money(value: Any) -> Decimal | None:
    """Return a USD amount from 0.12, "0.12" or "$0.12"; None for "Included", "" and the like."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().replace("$", "").replace(",", "")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def parse_time(value: Any) -> datetime | None:
    """Parse ISO 8601 text or epoch seconds/milliseconds into an aware UTC datetime."""
    if type(value) is str and value[-1:] == "Z":
        # Claude Code's and Codex's form, parsed once or twice per line of their logs.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10_000_000_000 else value
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return parse_time(int(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
