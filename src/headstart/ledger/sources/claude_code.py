"""Read Claude Code session transcripts (JSONL under `<config dir>/projects/`).

Claude Code writes one API response as several lines: one per content block, and repeated
streaming snapshots whose counts grow. A sidechain (subagent) transcript can replay a parent's
response under a new request id. All of them share the response's `message.id`, so that id is
the dedup key. The request id is used only when the message id is missing, and the line's uuid
when both are. The ledger keeps the snapshot with the most tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from headstart.ledger.attribution import local_engineer, repository_for
from headstart.ledger.events import TOKEN_FIELDS, UsageEvent
from headstart.ledger.report import IngestReport
from headstart.ledger.sources.built import build_event
from headstart.ledger.sources.cursors import FileCursor
from headstart.ledger.sources.failures import (
    MAX_CALLS,
    add_failures,
    call_fingerprint,
    failed_results,
)
from headstart.ledger.sources.lines import BRIEF_ID_PATTERN, json_lines
from headstart.ledger.sources.values import count, invalid_count, parse_time

READER = "claude_code"
KNOWN_TYPES = frozenset(
    {
        "user",
        "assistant",
        "system",
        "summary",
        "file-history-snapshot",
        "queue-operation",
        "progress",
        "custom-title",
        "agent-name",
        "tag",
        "attachment",
    }
)
BRIEF_ID = re.compile(BRIEF_ID_PATTERN)
MCP_TOOL = re.compile(r"^mcp__(.+?)__(.+)$")
FIRST_TYPE = re.compile(rb'"type":\s*"([A-Za-z_-]+)"')
# Kinds that never carry usage. "user" lines matter only while an MCP tool call awaits its result.
PASSIVE_TYPES = frozenset(kind.encode() for kind in KNOWN_TYPES - {"assistant"})
# Pending MCP tool calls kept in the checkpoint, bounded so a broken log cannot grow it forever.
MAX_PENDING_TOOL_USES = 200


def read(cursor: FileCursor, report: IngestReport) -> Iterator[UsageEvent]:
    """Yield one event per API response with usage; brief ids ride on the session's next event.

    The lines of one response (content blocks and streaming snapshots) follow each other, so
    they are merged here, keeping the line with the most tokens. Each merged line is counted in
    the report as an event and a duplicate, as the ledger would count it.
    """
    state = cursor.state
    pending_tools: dict[str, str] = state.setdefault("mcp_tool_uses", {})
    pending_briefs: list[str] = state.setdefault("briefs", [])
    # Tool calls awaiting their results, and failures not yet attached to a response.
    calls: dict[str, str] = state.setdefault("tool_calls", {})
    pending_failures: list[list[str]] = state.setdefault("failures", [])
    held: dict[str, Any] | None = None  # fields of the response read so far
    merged = 0  # lines merged into the held response, counted as events and duplicates

    def wanted(raw: bytes) -> bool:
        return _may_matter(raw, bool(pending_tools))

    for where, line in json_lines(cursor, report, wanted):
        kind = line.get("type")
        if kind not in KNOWN_TYPES:
            report.skip(f"unknown record type {kind!r}", where)
            continue
        if kind == "user":
            pending_briefs.extend(_briefs_from_results(line, pending_tools))
            pending_failures.extend(_failures(line, calls))
            if held is not None and pending_failures:
                # A failure belongs to the response that made the call, which is still held.
                add_failures(held["attributes"], [tuple(pair) for pair in pending_failures])
                pending_failures.clear()
            continue
        if kind != "assistant":
            continue

        message = line.get("message")
        if not isinstance(message, dict):
            report.skip("assistant line without a message object", where)
            continue
        _remember_tool_uses(message.get("content"), pending_tools, calls)

        if held is not None and not pending_briefs and _adds_nothing(line, message, held):
            merged += 1
            continue
        fields = _event_fields(line, message, where, report)
        if fields is None:
            continue
        if pending_failures:
            add_failures(fields["attributes"], [tuple(pair) for pair in pending_failures])
            pending_failures.clear()
        briefs: list[str] = []
        if pending_briefs:
            briefs = sorted(set(pending_briefs))
            pending_briefs.clear()

        if held is not None and held["dedup_key"] == fields["dedup_key"]:
            merged += 1
            if _tokens_of(fields) > _tokens_of(held):
                fields["brief_ids"] = sorted({*held["brief_ids"], *briefs})
                _keep_failures(held, fields)
                held = fields
            elif briefs:
                held["brief_ids"] = sorted({*held["brief_ids"], *briefs})
            continue
        if held is not None:
            yield _build(held)
        fields["brief_ids"] = briefs
        held = fields

    if held is not None:
        yield _build(held)
    report.events += merged
    report.duplicates += merged


def _failures(line: dict[str, Any], calls: dict[str, str]) -> list[list[str]]:
    message = line.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return [list(pair) for pair in failed_results(content, calls, _text_of)]


def _keep_failures(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Carry failures recorded on an earlier snapshot of a response to the one that replaces it."""
    for name in ("failed_calls", "errors"):
        if old["attributes"].get(name):
            new["attributes"][name] = [*old["attributes"][name], *new["attributes"].get(name, [])]


def _adds_nothing(line: dict[str, Any], message: dict[str, Any], held: dict[str, Any]) -> bool:
    """Tell whether a line repeats the held response with no more tokens, so it can be dropped.

    This is the common case (one line per content block), checked before the line's event
    fields are built. Lines that `_event_fields` would skip or report return False.
    """
    message_id = message.get("id")
    if message_id:
        key = f"claude_code:msg:{message_id}"
    elif line.get("requestId"):
        key = f"claude_code:req:{line['requestId']}"
    else:
        return False
    if key != held["dedup_key"]:
        return False

    usage = message.get("usage")
    if not isinstance(usage, dict) or line.get("isApiErrorMessage"):
        return False
    if message.get("model") == "<synthetic>" or parse_time(line.get("timestamp")) is None:
        return False

    by_ttl = usage.get("cache_creation")
    by_ttl = by_ttl if isinstance(by_ttl, dict) else {}
    writes = max(
        count(usage.get("cache_creation_input_tokens")),
        count(by_ttl.get("ephemeral_5m_input_tokens"))
        + count(by_ttl.get("ephemeral_1h_input_tokens")),
    )
    tokens = (
        count(usage.get("input_tokens"))
        + count(usage.get("cache_read_input_tokens"))
        + writes
        + count(usage.get("output_tokens"))
    )
    return tokens <= _tokens_of(held)


def _build(fields: dict[str, Any]) -> UsageEvent:
    # Every value already has its field's type, so pydantic's validation is skipped. It took
    # about a fifth of the reader's time in a profile of the benchmark tree.
    return build_event(fields)


def _tokens_of(fields: dict[str, Any]) -> int:
    return sum(fields[name] for name in TOKEN_FIELDS)


def _may_matter(raw: bytes, tools_pending: bool) -> bool:
    """Tell whether a line needs parsing: it may carry usage, a brief id, or a problem to report.

    A well-formed line whose first `"type"` is a known kind without usage is passed over. Most
    of a transcript is such lines (tool results, file snapshots), so this saves most parsing.
    The first `"type"` can belong to a nested object, so only a known top-level kind skips.
    """
    if b'"usage"' in raw or (tools_pending and b'"tool_result"' in raw):
        return True
    if b'"is_error":' in raw and (b'"is_error":true' in raw or b'"is_error": true' in raw):
        return True  # a failed tool call, counted for loop detection
    if not (raw.startswith(b"{") and raw.endswith(b"}")):
        return True  # corrupt or odd: let the parser report it
    match = FIRST_TYPE.search(raw)
    return match is None or match.group(1) not in PASSIVE_TYPES


_USAGE_COUNTS = (
    "input_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "output_tokens",
)


def _counts_to_check(usage: dict[str, Any], by_ttl: dict[str, Any]) -> list[tuple[str, Any]]:
    """Return the (name, value) of each token count that is not a plain non-negative int."""
    pairs = [(key, usage.get(key)) for key in _USAGE_COUNTS]
    pairs.extend(by_ttl.items())
    return [(name, value) for name, value in pairs if type(value) is not int or value < 0]


def _event_fields(
    line: dict[str, Any], message: dict[str, Any], where: str, report: IngestReport
) -> dict[str, Any] | None:
    """Return the fields of the line's `UsageEvent` (all of them but `brief_ids`), or skip it."""
    usage = message.get("usage")
    model = message.get("model")
    if line.get("isApiErrorMessage") or model == "<synthetic>":
        report.skip("synthetic or API error message (not billed)", where)
        return None
    if not isinstance(usage, dict):
        report.skip("assistant line without usage", where)
        return None

    message_id = message.get("id")
    request_id = line.get("requestId")
    if message_id:
        dedup_key = f"claude_code:msg:{message_id}"
    elif request_id:
        dedup_key = f"claude_code:req:{request_id}"
    elif line.get("uuid"):
        dedup_key = f"claude_code:line:{line['uuid']}"
    else:
        report.skip("assistant line without message id, request id or uuid", where)
        return None

    timestamp = parse_time(line.get("timestamp"))
    if timestamp is None:
        report.skip(f"invalid timestamp {line.get('timestamp')!r}", where)
        return None

    by_ttl = usage.get("cache_creation") if isinstance(usage.get("cache_creation"), dict) else {}
    for name, value in _counts_to_check(usage, by_ttl):
        if name.endswith("_tokens") and invalid_count(value):
            # Counting it as 0 would under-count the request without a trace.
            report.skip(f"invalid token count {value!r} in usage.{name}", where)
            return None

    writes_total = count(usage.get("cache_creation_input_tokens"))
    writes_1h = count(by_ttl.get("ephemeral_1h_input_tokens"))
    writes_5m = count(by_ttl.get("ephemeral_5m_input_tokens"))
    # Writes not split by TTL used the default 5-minute TTL.
    writes_5m += max(writes_total - writes_5m - writes_1h, 0)

    cwd = _text_or_none(line.get("cwd"))
    attributes: dict[str, Any] = {}
    for source, target in (
        ("version", "claude_code.version"),
        ("isSidechain", "is_sidechain"),
        ("agentId", "agent_id"),
    ):
        if line.get(source) is not None:
            attributes[target] = line[source]
    for name in ("service_tier", "speed"):
        if usage.get(name) is not None:
            attributes[name] = usage[name]

    # Every field is given, because build_event takes the dict as the event's fields.
    return {
        "source": "claude_code_log",
        "dedup_key": dedup_key,
        "tool": "claude_code",
        "timestamp": timestamp,
        "model": model if isinstance(model, str) else None,
        "session_id": _text_or_none(line.get("sessionId")),
        "request_id": _text_or_none(request_id),
        "input_tokens": count(usage.get("input_tokens")),
        "cache_read_tokens": count(usage.get("cache_read_input_tokens")),
        "cache_write_5m_tokens": writes_5m,
        "cache_write_1h_tokens": writes_1h,
        "output_tokens": count(usage.get("output_tokens")),
        "reasoning_tokens": 0,
        "reported_cost_usd": None,
        "engineer": local_engineer(cwd),
        "team": None,
        "organization": None,
        "repository": repository_for(cwd) if cwd else None,
        "branch": _text_or_none(line.get("gitBranch")),
        "cwd": cwd,
        "attributes": attributes,
    }


def _remember_tool_uses(content: Any, mcp_calls: dict[str, str], calls: dict[str, str]) -> None:
    """Record each tool_use block of an assistant message's content.

    `calls` gets every call's fingerprint, to match a failed result to its call, and `mcp_calls`
    the name of each MCP tool called, whose result may carry a brief id.
    """
    if not isinstance(content, list):
        return
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "tool_use" or not block.get("id"):
            continue
        call_id, name = str(block["id"]), block.get("name")
        calls[call_id] = call_fingerprint(str(name), block.get("input"))
        if isinstance(name, str) and MCP_TOOL.match(name):
            mcp_calls[call_id] = name
    for remembered, limit in ((calls, MAX_CALLS), (mcp_calls, MAX_PENDING_TOOL_USES)):
        while len(remembered) > limit:
            remembered.pop(next(iter(remembered)))


def _briefs_from_results(line: dict[str, Any], pending: dict[str, str]) -> list[str]:
    """Return brief ids in results of MCP tool calls this session made."""
    message = line.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list) or not pending:
        return []
    found: list[str] = []
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "tool_result":
            continue
        if pending.pop(str(block.get("tool_use_id")), None) is None:
            continue
        found.extend(BRIEF_ID.findall(_text_of(block.get("content"))))
    return found


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text_of(item) for item in value)
    if isinstance(value, dict):
        return "\n".join(_text_of(item) for item in value.values())
    return ""


def _text_or_none(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    return str(value) if value is not None and not isinstance(value, (dict, list)) else None
