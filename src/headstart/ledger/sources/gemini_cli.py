"""Read Gemini CLI telemetry files (`telemetry.outfile`, or `--telemetry-outfile`).

Gemini CLI's file exporter appends each OpenTelemetry log record as a pretty-printed JSON
object, so records span several lines. Compact one-per-line files are read the same way. Usage is
on `gemini_cli.api_response` records. Their `input_token_count` includes cached tokens and
`output_token_count` excludes thinking tokens, which are billed as output.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from headstart.ledger.events import UsageEvent
from headstart.ledger.report import IngestReport
from headstart.ledger.sources.cursors import FileCursor
from headstart.ledger.sources.values import count, invalid_count, parse_time

READER = "gemini_cli"
API_RESPONSE = "gemini_cli.api_response"
DECODER = json.JSONDecoder()


def read(cursor: FileCursor, report: IngestReport) -> Iterator[UsageEvent]:
    """Yield one event per api_response record after the cursor."""
    for where, record in _records(cursor, report):
        attributes = _attributes(record)
        if attributes is None:
            if not _is_known_telemetry(record):
                report.skip("unknown telemetry record", where)
            continue
        if attributes.get("event.name") != API_RESPONSE:
            continue
        event = _event(record, attributes, where, report)
        if event is not None:
            yield event


def _records(cursor: FileCursor, report: IngestReport) -> Iterator[tuple[str, dict[str, Any]]]:
    with cursor.path.open("rb") as handle:
        handle.seek(cursor.offset)
        data = handle.read()
    report.bytes_read += len(data)
    text = data.decode("utf-8", errors="replace")

    position = 0
    consumed_bytes = 0
    while True:
        start = _skip_space(text, position)
        if start >= len(text):
            consumed_bytes += len(text[position:].encode("utf-8"))
            cursor.offset += consumed_bytes
            return
        where = f"{cursor.path}@{cursor.offset + consumed_bytes + len(text[position:start].encode('utf-8'))}"
        try:
            value, end = DECODER.raw_decode(text, start)
        except ValueError:
            resume = text.find("\n{", start + 1)
            if resume < 0:
                # An object still being written, or a torn tail: retry it on the next ingest.
                consumed_bytes += len(text[position:start].encode("utf-8"))
                cursor.offset += consumed_bytes
                return
            report.skip("corrupt or truncated JSON record", where)
            consumed_bytes += len(text[position : resume + 1].encode("utf-8"))
            position = resume + 1
            continue
        consumed_bytes += len(text[position:end].encode("utf-8"))
        position = end
        if isinstance(value, dict):
            yield where, value
        else:
            report.skip("JSON record is not an object", where)


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _attributes(record: dict[str, Any]) -> dict[str, Any] | None:
    if "event.name" in record:
        return record
    for key in ("attributes", "_attributes"):
        value = record.get(key)
        if isinstance(value, dict) and "event.name" in value:
            return value
    return None


def _is_known_telemetry(record: dict[str, Any]) -> bool:
    # Metric exports, spans and log records of other kinds share the file.
    return any(
        key in record for key in ("scopeMetrics", "resource", "name", "hrTime", "_body", "body")
    )


def request_digest(
    *,
    session_id: str | None,
    prompt_id: Any,
    event_timestamp: Any,
    model: Any,
    prompt: int,
    cached: int,
    thoughts: int,
    output: int,
) -> str:
    """Return the identity of one Gemini API response, shared by this reader and OTLP.

    Gemini CLI logs no id of its own per API request: `prompt_id` names the user's prompt, and
    one prompt can make several requests. The file exporter and the OTLP exporter send the same
    record, so its attributes, including the `event.timestamp` text, identify it in both.
    """
    identity = json.dumps(
        [session_id, prompt_id, event_timestamp, model, prompt, cached, thoughts, output]
    )
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def _resource_attributes(record: dict[str, Any]) -> dict[str, Any]:
    resource = record.get("resource")
    if isinstance(resource, dict):
        for key in ("attributes", "_attributes", "_rawAttributes"):
            value = resource.get(key)
            if isinstance(value, dict):
                return value
    return {}


_COUNT_ATTRIBUTES = (
    "input_token_count",
    "cached_content_token_count",
    "tool_token_count",
    "thoughts_token_count",
    "output_token_count",
)


def _event(
    record: dict[str, Any], attributes: dict[str, Any], where: str, report: IngestReport
) -> UsageEvent | None:
    timestamp = parse_time(attributes.get("event.timestamp"))
    if timestamp is None and isinstance(record.get("hrTime"), list) and record["hrTime"]:
        timestamp = parse_time(record["hrTime"][0])
    if timestamp is None:
        report.skip("api_response without a timestamp", where)
        return None

    for name in _COUNT_ATTRIBUTES:
        if invalid_count(attributes.get(name)):
            # Counting it as 0 would under-count the response without a trace.
            report.skip(f"invalid token count {attributes[name]!r} in {name}", where)
            return None

    prompt = count(attributes.get("input_token_count"))
    cached = min(count(attributes.get("cached_content_token_count")), prompt)
    tool_prompt = count(attributes.get("tool_token_count"))
    thoughts = count(attributes.get("thoughts_token_count"))
    session_id = attributes.get("session.id") or attributes.get("session_id")
    resource = _resource_attributes(record)

    digest = request_digest(
        session_id=str(session_id) if session_id else None,
        prompt_id=attributes.get("prompt_id"),
        event_timestamp=attributes.get("event.timestamp"),
        model=attributes.get("model"),
        prompt=prompt,
        cached=cached,
        thoughts=thoughts,
        output=count(attributes.get("output_token_count")),
    )
    extra: dict[str, Any] = {}
    if attributes.get("duration_ms"):
        extra["duration_ms"] = attributes.get("duration_ms")
    if attributes.get("prompt_id"):
        extra["prompt_id"] = attributes.get("prompt_id")

    return UsageEvent(
        source="gemini_cli_telemetry",
        dedup_key=f"gemini_cli:{digest}",
        tool="gemini_cli",
        timestamp=timestamp,
        model=attributes.get("model"),
        session_id=str(session_id) if session_id else None,
        # NOTE: tool-use prompt tokens are billed as input but are not part of the prompt count.
        input_tokens=prompt - cached + tool_prompt,
        cache_read_tokens=cached,
        output_tokens=count(attributes.get("output_token_count")) + thoughts,
        reasoning_tokens=thoughts,
        engineer=attributes.get("user.email") or resource.get("user.email"),
        team=attributes.get("team.id") or resource.get("team.id"),
        attributes=extra,
    )
