"""Fingerprints of failing tool calls and errors in a session log, for loop detection.

A call's fingerprint is its tool name and a digest of its input, so the same command with the
same arguments has the same fingerprint. An error's fingerprint is a digest of its first line
with digits removed, so "line 12" and "line 13" of the same failure match. Only digests are
stored, never the text, which may hold secrets.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

# Fingerprints kept per session while their results are awaited; older ones are dropped.
MAX_CALLS = 200
_DIGITS = re.compile(r"\d+")


def _digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:12]


def call_fingerprint(name: str, arguments: Any) -> str:
    try:
        encoded = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        encoded = repr(arguments).encode()
    return f"{name}:{_digest(encoded)}"


def error_fingerprint(text: str) -> str:
    first = text.strip().split("\n", 1)[0][:500]
    return _digest(_DIGITS.sub("#", first).encode())


def failed_results(content: Any, calls: dict[str, str], text_of: Any) -> list[tuple[str, str]]:
    """Return (call fingerprint, error fingerprint) of each tool_result marked as an error."""
    if not isinstance(content, list):
        return []
    failed = []
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "tool_result":
            continue
        if block.get("is_error") is not True:
            continue
        call = calls.get(str(block.get("tool_use_id")), "unknown")
        failed.append((call, error_fingerprint(text_of(block.get("content")))))
    return failed


def add_failures(attributes: dict[str, Any], failures: list[tuple[str, str]]) -> None:
    """Append failures to an event's attributes (`failed_calls` and `errors` lists)."""
    if not failures:
        return
    attributes.setdefault("failed_calls", []).extend(call for call, _error in failures)
    attributes.setdefault("errors", []).extend(error for _call, error in failures)
