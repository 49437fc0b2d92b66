"""Read Codex CLI rollout files (`$CODEX_HOME/sessions/**/rollout-*.jsonl`, and archived ones).

Codex reports usage in `token_count` events whose `total_token_usage` is cumulative for the
session and may be emitted twice for one turn. Each request's usage is therefore the growth of
the cumulative total since the previous event, never the sum of the `last_token_usage` values.
Its `input_tokens` includes cached input and its `output_tokens` includes reasoning; the event
is converted to the ledger's convention (uncached input, output with reasoning inside).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from headstart.ledger.attribution import local_engineer, repository_for
from headstart.ledger.events import UsageEvent
from headstart.ledger.report import IngestReport
from headstart.ledger.sources.cursors import FileCursor
from headstart.ledger.sources.failures import (
    MAX_CALLS,
    add_failures,
    call_fingerprint,
    error_fingerprint,
)
from headstart.ledger.sources.lines import BRIEF_ID_PATTERN, json_lines
from headstart.ledger.sources.values import count, invalid_count, parse_time
from headstart.ledger.teams import normalize_repository

READER = "codex"
KNOWN_TYPES = frozenset({"session_meta", "turn_context", "event_msg", "response_item", "compacted"})
USAGE_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
BRIEF_ID = re.compile(BRIEF_ID_PATTERN)
SESSION_ID_IN_NAME = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


def read(cursor: FileCursor, report: IngestReport) -> Iterator[UsageEvent]:
    """Yield one event per growth of the cumulative token count."""
    state = cursor.state
    if "session_id" not in state:
        match = SESSION_ID_IN_NAME.search(cursor.path.name)
        state["session_id"] = match.group(1) if match else cursor.path.stem
    state.setdefault("briefs", [])
    state.setdefault("calls", {})

    for where, line in json_lines(cursor, report):
        kind = line.get("type")
        payload = line.get("payload")
        if kind not in KNOWN_TYPES or not isinstance(payload, dict):
            reason = (
                "rollout line in an older format without token counts"
                if kind is None and "payload" not in line
                else f"unknown record type {kind!r}"
            )
            report.skip(reason, where)
            continue

        if kind == "session_meta":
            _read_meta(payload, state)
        elif kind == "turn_context":
            state["model"] = payload.get("model") or state.get("model")
            state["cwd"] = payload.get("cwd") or state.get("cwd")
        elif kind == "response_item":
            _read_tool_call(payload, state)
        elif kind == "event_msg":
            if payload.get("type") == "mcp_tool_call_end":
                state["briefs"].extend(BRIEF_ID.findall(str(payload.get("result", ""))))
            elif payload.get("type") == "token_count":
                event = _usage(line, payload, state, where, report)
                if event is not None:
                    yield event


def _read_meta(payload: dict[str, Any], state: dict[str, Any]) -> None:
    if payload.get("id"):
        state["session_id"] = str(payload["id"])
    state["cwd"] = payload.get("cwd") or state.get("cwd")
    state["cli_version"] = payload.get("cli_version")
    git = payload.get("git") if isinstance(payload.get("git"), dict) else {}
    if git.get("repository_url"):
        state["repository"] = normalize_repository(str(git["repository_url"]))
    if git.get("branch"):
        state["branch"] = str(git["branch"])
    source = payload.get("source")
    if isinstance(source, dict):
        # Subagent threads name their parent; keep it so reports can roll them up.
        state["source"] = source


def _read_tool_call(payload: dict[str, Any], state: dict[str, Any]) -> None:
    _read_failure(payload, state)
    calls: dict[str, str] = state["calls"]
    if payload.get("type") == "function_call" and payload.get("call_id"):
        name = str(payload.get("name", ""))
        if "get_task_brief" in name or "__" in name:
            calls[str(payload["call_id"])] = name
            while len(calls) > 200:
                calls.pop(next(iter(calls)))
    elif payload.get("type") == "function_call_output" and calls.pop(
        str(payload.get("call_id")), None
    ):
        state["briefs"].extend(BRIEF_ID.findall(str(payload.get("output", ""))))


def _read_failure(payload: dict[str, Any], state: dict[str, Any]) -> None:
    """Remember each tool call, and each output whose exit code is not 0, for loop detection."""
    fingerprints: dict[str, str] = state.setdefault("tool_calls", {})
    call_id = str(payload.get("call_id"))
    if payload.get("type") == "function_call" and payload.get("call_id"):
        fingerprints[call_id] = call_fingerprint(
            str(payload.get("name", "")), payload.get("arguments")
        )
        while len(fingerprints) > MAX_CALLS:
            fingerprints.pop(next(iter(fingerprints)))
        return
    if payload.get("type") != "function_call_output":
        return
    output = payload.get("output")
    try:
        # Shell calls report {"output": "...", "metadata": {"exit_code": 1, ...}} as a string.
        parsed = json.loads(output) if isinstance(output, str) else output
    except ValueError:
        return
    metadata = parsed.get("metadata") if isinstance(parsed, dict) else None
    if not isinstance(metadata, dict) or metadata.get("exit_code") in (None, 0):
        return
    text = str(parsed.get("output", ""))
    call = fingerprints.pop(call_id, "unknown")
    state.setdefault("failures", []).append([call, error_fingerprint(text)])


def _usage(
    line: dict[str, Any],
    payload: dict[str, Any],
    state: dict[str, Any],
    where: str,
    report: IngestReport,
) -> UsageEvent | None:
    info = payload.get("info")
    if not isinstance(info, dict):
        return None  # rate-limit-only updates carry no usage
    total = info.get("total_token_usage")
    last = info.get("last_token_usage")
    for usage_name, usage in (("total_token_usage", total), ("last_token_usage", last)):
        bad = next(
            (
                name
                for name in USAGE_FIELDS
                if isinstance(usage, dict) and invalid_count(usage.get(name))
            ),
            None,
        )
        if bad is not None:
            # Counting it as 0 would under-count the turn without a trace.
            report.skip(f"invalid token count {usage[bad]!r} in {usage_name}.{bad}", where)
            return None
    if isinstance(total, dict):
        current = {name: count(total.get(name)) for name in USAGE_FIELDS}
        previous = state.get("total")
        if previous and all(current[name] >= previous.get(name, 0) for name in USAGE_FIELDS):
            delta = {name: current[name] - previous.get(name, 0) for name in USAGE_FIELDS}
        else:
            # First event, or the counter restarted: the total is all new usage.
            delta = current
        state["total"] = current
        position = count(total.get("total_tokens")) or sum(current.values())
    elif isinstance(last, dict):
        delta = {name: count(last.get(name)) for name in USAGE_FIELDS}
        if delta == state.get("last") and line.get("timestamp") == state.get("last_time"):
            return None
        state["last"], state["last_time"] = delta, line.get("timestamp")
        state["position"] = state.get("position", 0) + sum(delta.values())
        position = state["position"]
    else:
        report.skip("token_count event without total or last usage", where)
        return None

    if not any(delta.values()):
        return None  # the same cumulative total emitted again

    timestamp = parse_time(line.get("timestamp"))
    if timestamp is None:
        report.skip(f"invalid timestamp {line.get('timestamp')!r}", where)
        return None

    cached = min(delta["cached_input_tokens"], delta["input_tokens"])
    cwd = state.get("cwd")
    briefs = sorted(set(state["briefs"]))
    state["briefs"] = []
    attributes: dict[str, Any] = {}
    if state.get("cli_version"):
        attributes["codex.cli_version"] = state["cli_version"]
    if state.get("source"):
        attributes["codex.source"] = state["source"]
    if state.get("failures"):
        add_failures(attributes, [tuple(pair) for pair in state["failures"]])
        state["failures"] = []

    return UsageEvent(
        source="codex_log",
        dedup_key=f"codex:{state['session_id']}:{position}",
        tool="codex",
        timestamp=timestamp,
        model=state.get("model"),
        session_id=state["session_id"],
        input_tokens=delta["input_tokens"] - cached,
        cache_read_tokens=cached,
        output_tokens=delta["output_tokens"],
        reasoning_tokens=delta["reasoning_output_tokens"],
        engineer=local_engineer(cwd),
        repository=state.get("repository") or (repository_for(cwd) if cwd else None),
        branch=state.get("branch"),
        cwd=cwd,
        brief_ids=briefs,
        attributes=attributes,
    )
