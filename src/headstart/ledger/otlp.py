"""Read OTLP log and metric exports from coding agents into usage events and counter points.

Coding agents export two OpenTelemetry signals that matter to the ledger:

- **Logs**: one record per event. The per-request events become `UsageEvent`s:
  Claude Code `claude_code.api_request`, Codex `codex.sse_event` of kind `response.completed`,
  and Gemini CLI `gemini_cli.api_response`. Every other event is valid input and is ignored.
- **Metrics**: the token and cost counters (`claude_code.token.usage`, `claude_code.cost.usage`,
  `gemini_cli.token.usage`) become `CounterPoint`s, kept as a cross-check of the events.

Both signals arrive as protobuf or as OTLP/JSON (lowerCamelCase names, hex trace and span ids,
64-bit integers as strings). A request that does not decode raises `OtlpDecodeError`. A record
that decodes but cannot be used is counted as rejected and the first few are kept as examples,
so one bad record never costs the others.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, NumberDataPoint
from pydantic import BaseModel, Field

from headstart.ledger.errors import LedgerInputError
from headstart.ledger.events import UsageEvent
from headstart.ledger.sources.gemini_cli import request_digest

logger = logging.getLogger("headstart.ledger.otlp")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

SOURCE = "otlp"
MAX_EXAMPLES = 5

# Attributes that carry prompt or response text. They are never copied into the ledger.
_CONTENT_KEYS = frozenset({"prompt", "request_text", "response_text", "response_body"})

# OTLP/JSON writes these bytes fields as hex, where the protobuf JSON mapping expects base64.
_HEX_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id"})
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")

RequestT = TypeVar("RequestT", bound=Message)


class OtlpDecodeError(LedgerInputError):
    """An OTLP request body is not a valid protobuf or OTLP/JSON message of the expected type."""


class SkippedRecord(BaseModel):
    """A log record or data point that was rejected, with where it was and why."""

    location: str = Field(
        description="Path inside the request, e.g. resourceLogs[0].scopeLogs[0].logRecords[3]."
    )
    name: str | None = Field(default=None, description="Event or metric name, when one was found.")
    reason: str


class LogsParseResult(BaseModel):
    """Usage events read from one ExportLogsServiceRequest, and what was left out."""

    events: list[UsageEvent] = Field(default_factory=list)
    received: int = 0
    ignored: int = Field(default=0, description="Valid records that are not usage events.")
    rejected: int = 0
    examples: list[SkippedRecord] = Field(
        default_factory=list, description="The first rejected records."
    )


class CounterPoint(BaseModel):
    """One data point of a token or cost counter, with the labels the cross-check groups by."""

    tool: str
    metric: str
    token_type: str | None = Field(
        default=None, description="The counter's `type` attribute; None for cost."
    )
    session_id: str | None = None
    model: str | None = None
    engineer: str | None = None
    team: str | None = None
    organization: str | None = None
    series_key: str = Field(
        description="Hash of metric name, scope and all attributes: one time series."
    )
    temporality: Literal["delta", "cumulative"]
    start_time: datetime | None = None
    time: datetime
    value: Decimal


class MetricsParseResult(BaseModel):
    """Counter points read from one ExportMetricsServiceRequest, and what was left out."""

    points: list[CounterPoint] = Field(default_factory=list)
    received: int = Field(default=0, description="Data points of every metric in the request.")
    ignored: int = 0
    rejected: int = 0
    examples: list[SkippedRecord] = Field(default_factory=list)


class _Rejected(Exception):
    """A record that decodes but cannot become a usage event or counter point."""


# ---------------------------------------------------------------------------------------------
# Decoding


def decode_logs_request(body: bytes, content_type: str) -> ExportLogsServiceRequest:
    """Decode an OTLP logs export from protobuf bytes or OTLP/JSON; raise `OtlpDecodeError`."""
    return _decode(body, content_type, ExportLogsServiceRequest)


def decode_metrics_request(body: bytes, content_type: str) -> ExportMetricsServiceRequest:
    """Decode an OTLP metrics export from protobuf bytes or OTLP/JSON; raise `OtlpDecodeError`."""
    return _decode(body, content_type, ExportMetricsServiceRequest)


def _decode(body: bytes, content_type: str, message_type: type[RequestT]) -> RequestT:
    message = message_type()
    name = message_type.DESCRIPTOR.name

    if content_type == PROTOBUF:
        try:
            message.ParseFromString(body)
        except DecodeError as exc:
            raise OtlpDecodeError(f"invalid protobuf {name}: {exc}") from exc
        return message

    if content_type != JSON:
        raise OtlpDecodeError(
            f"unsupported content type {content_type!r}: use {PROTOBUF!r} or {JSON!r}"
        )

    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OtlpDecodeError(f"invalid JSON in {name}: {exc}") from exc
    if not isinstance(document, dict):
        raise OtlpDecodeError(f"expected a JSON object for {name}, found {type(document).__name__}")

    try:
        # The OTLP specification requires receivers to ignore unknown fields.
        json_format.ParseDict(_hex_ids_to_base64(document), message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise OtlpDecodeError(f"invalid OTLP/JSON {name}: {exc}") from exc
    return message


def _hex_ids_to_base64(value: Any) -> Any:
    """Rewrite hex trace and span ids to the base64 that the protobuf JSON mapping reads."""
    if isinstance(value, list):
        return [_hex_ids_to_base64(item) for item in value]
    if not isinstance(value, dict):
        return value

    converted: dict[str, Any] = {}
    for key, item in value.items():
        if key in _HEX_ID_KEYS and isinstance(item, str) and _HEX.match(item):
            converted[key] = base64.b64encode(binascii.unhexlify(item)).decode("ascii")
        else:
            converted[key] = _hex_ids_to_base64(item)
    return converted


# ---------------------------------------------------------------------------------------------
# Attributes


def any_value(value: AnyValue) -> Any:
    """Convert an OTLP AnyValue into plain Python (bytes become hex so the result is JSON-safe)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_dict(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes_dict(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    return {attribute.key: any_value(attribute.value) for attribute in attributes}


@dataclass(frozen=True)
class _Context:
    """Attributes of one record and of the resource and scope that sent it."""

    record: Mapping[str, Any]
    resource: Mapping[str, Any]
    scope_name: str

    def first(self, *keys: str) -> str | None:
        """Return the first non-empty value among `keys`, record attributes before resource ones."""
        for source in (self.record, self.resource):
            for key in keys:
                value = source.get(key)
                if value is not None and value != "":
                    return str(value)
        return None


def _count(context: _Context, key: str) -> int | None:
    """Read a token count that may arrive as an int, a float or a string; None when absent."""
    value = context.record.get(key)
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _Rejected(f"{key} is {value!r}, expected a whole number of tokens") from None
    if not number.is_finite() or number != number.to_integral_value() or number < 0:
        raise _Rejected(f"{key} is {value!r}, expected a whole number of tokens")
    return int(number)


def _money(context: _Context, key: str) -> Decimal | None:
    value = context.record.get(key)
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise _Rejected(f"{key} is {value!r}, expected an amount in USD") from None
    if not amount.is_finite() or amount < 0:
        raise _Rejected(f"{key} is {value!r}, expected an amount in USD")
    return amount


def _timestamp(context: _Context, record: LogRecord) -> datetime:
    """Prefer the tool's own `event.timestamp`, then the record's time, then its observed time."""
    text = context.record.get("event.timestamp")
    if isinstance(text, str) and text:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _Rejected(f"event.timestamp is {text!r}, expected an ISO 8601 time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    nanos = record.time_unix_nano or record.observed_time_unix_nano
    if not nanos:
        raise _Rejected("no event.timestamp, timeUnixNano or observedTimeUnixNano")
    return _from_nanos(nanos)


def _from_nanos(nanos: int) -> datetime:
    return datetime.fromtimestamp(nanos / 1_000_000_000, tz=UTC)


def _digest(*parts: object) -> str:
    text = json.dumps([str(part) if part is not None else None for part in parts])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _kept_attributes(context: _Context) -> dict[str, Any]:
    kept = {key: value for key, value in context.record.items() if key not in _CONTENT_KEYS}
    kept["resource"] = dict(context.resource)
    return kept


def _attribution(context: _Context) -> dict[str, str | None]:
    return {
        "engineer": context.first("user.email"),
        "team": context.first("team.id", "team"),
        "organization": context.first("organization.id"),
    }


# ---------------------------------------------------------------------------------------------
# Logs: one reader per tool


def _event_names(record: LogRecord, attributes: Mapping[str, Any]) -> set[str]:
    """Collect the names a record goes by: `event.name`, the LogRecord event_name, a string body."""
    names = {str(attributes["event.name"])} if attributes.get("event.name") else set()
    if record.event_name:
        names.add(record.event_name)
    if record.body.WhichOneof("value") == "string_value" and len(record.body.string_value) < 200:
        names.add(record.body.string_value)
    return names


def _claude_code_request(context: _Context, record: LogRecord) -> UsageEvent:
    counts = {
        key: _count(context, key)
        for key in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
    }
    if all(value is None for value in counts.values()):
        raise _Rejected(
            "api_request event without input_tokens, output_tokens or cache token counts"
        )

    timestamp = _timestamp(context, record)
    model = context.first("model")
    session_id = context.first("session.id")
    request_id = context.first("request_id")

    # The session-log reader keys a line without a message id the same way.
    if request_id:
        dedup_key = f"claude_code:req:{request_id}"
    else:
        prompt_id = context.first("prompt.id")
        dedup_key = (
            f"claude_code:otlp:{_digest(session_id, prompt_id, timestamp.isoformat(), model)}"
        )

    return UsageEvent(
        source=SOURCE,
        dedup_key=dedup_key,
        tool="claude_code",
        timestamp=timestamp,
        model=model,
        session_id=session_id,
        request_id=request_id,
        # Claude Code counts like the Anthropic API: input excludes cache reads and writes.
        input_tokens=counts["input_tokens"] or 0,
        cache_read_tokens=counts["cache_read_tokens"] or 0,
        # NOTE: the event does not split cache writes by TTL, so all of them are booked as
        # 5-minute writes. A session using the 1-hour cache is priced low, and cost_usd shows it.
        cache_write_5m_tokens=counts["cache_creation_tokens"] or 0,
        output_tokens=counts["output_tokens"] or 0,
        reported_cost_usd=_money(context, "cost_usd"),
        attributes=_kept_attributes(context),
        **_attribution(context),
    )


def _codex_response(context: _Context, record: LogRecord) -> UsageEvent | None:
    total_input = _count(context, "input_token_count")
    output = _count(context, "output_token_count")
    if total_input is None and output is None:
        # Codex reports a failed completion under the same event kind, with no counts.
        return None

    cached = _count(context, "cached_token_count") or 0
    reasoning = _count(context, "reasoning_token_count") or 0
    total_input = total_input or 0
    if cached > total_input:
        raise _Rejected(f"cached_token_count {cached} exceeds input_token_count {total_input}")

    timestamp = _timestamp(context, record)
    model = context.first("model")
    session_id = context.first("conversation.id")
    key = _digest(session_id, timestamp.isoformat(), model, total_input, cached, output, reasoning)

    return UsageEvent(
        source=SOURCE,
        dedup_key=f"codex:otlp:{key}",
        tool="codex",
        timestamp=timestamp,
        model=model,
        session_id=session_id,
        # OpenAI counts cached tokens inside input and reasoning tokens inside output.
        input_tokens=total_input - cached,
        cache_read_tokens=cached,
        output_tokens=output or 0,
        reasoning_tokens=reasoning,
        attributes=_kept_attributes(context),
        **_attribution(context),
    )


def _gemini_response(context: _Context, record: LogRecord) -> UsageEvent:
    prompt = _count(context, "input_token_count")
    candidates = _count(context, "output_token_count")
    if prompt is None and candidates is None:
        raise _Rejected("api_response event without input_token_count or output_token_count")

    cached = _count(context, "cached_content_token_count") or 0
    thoughts = _count(context, "thoughts_token_count") or 0
    tool_prompt = _count(context, "tool_token_count") or 0
    prompt = prompt or 0
    if cached > prompt:
        raise _Rejected(f"cached_content_token_count {cached} exceeds input_token_count {prompt}")

    timestamp = _timestamp(context, record)
    model = context.first("model")
    session_id = context.first("session.id")
    # The key of the same record read from Gemini CLI's telemetry file, so the two count once.
    key = request_digest(
        session_id=session_id,
        prompt_id=context.first("prompt_id"),
        event_timestamp=context.first("event.timestamp"),
        model=model,
        prompt=prompt,
        cached=cached,
        thoughts=thoughts,
        output=candidates or 0,
    )

    return UsageEvent(
        source=SOURCE,
        dedup_key=f"gemini_cli:{key}",
        tool="gemini_cli",
        timestamp=timestamp,
        model=model,
        session_id=session_id,
        # Gemini API usageMetadata: promptTokenCount includes the cached content, and thoughts
        # and tool-use prompt tokens are counted apart from the prompt and the candidates.
        # NOTE: billing tool-use prompt tokens as uncached input is an assumption.
        input_tokens=prompt - cached + tool_prompt,
        cache_read_tokens=cached,
        output_tokens=(candidates or 0) + thoughts,
        reasoning_tokens=thoughts,
        attributes=_kept_attributes(context),
        **_attribution(context),
    )


def _is_claude_code(names: set[str], context: _Context) -> bool:
    if "claude_code.api_request" in names:
        return True
    # Claude Code sets event.name to the bare "api_request"; other tools use that name too.
    sent_by_claude_code = context.resource.get(
        "service.name"
    ) == "claude-code" or context.scope_name.startswith("com.anthropic.claude_code")
    return "api_request" in names and sent_by_claude_code


def _usage_event(record: LogRecord, context: _Context, names: set[str]) -> UsageEvent | None:
    """Read one log record; None for events that carry no usage."""
    if _is_claude_code(names, context):
        return _claude_code_request(context, record)
    if "codex.sse_event" in names and context.record.get("event.kind") == "response.completed":
        return _codex_response(context, record)
    if "gemini_cli.api_response" in names:
        return _gemini_response(context, record)
    return None


def parse_logs(request: ExportLogsServiceRequest) -> LogsParseResult:
    """Turn the usage events of an OTLP logs export into `UsageEvent`s, counting what is skipped."""
    result = LogsParseResult()

    for resource_index, resource_logs in enumerate(request.resource_logs):
        resource = attributes_dict(resource_logs.resource.attributes)

        for scope_index, scope_logs in enumerate(resource_logs.scope_logs):
            for record_index, record in enumerate(scope_logs.log_records):
                result.received += 1
                attributes = attributes_dict(record.attributes)
                context = _Context(attributes, resource, scope_logs.scope.name)
                names = _event_names(record, attributes)

                try:
                    event = _usage_event(record, context, names)
                except _Rejected as exc:
                    location = (
                        f"resourceLogs[{resource_index}].scopeLogs[{scope_index}]"
                        f".logRecords[{record_index}]"
                    )
                    name = str(attributes.get("event.name") or record.event_name or "") or None
                    _reject(result, SkippedRecord(location=location, name=name, reason=str(exc)))
                    continue

                if event is None:
                    result.ignored += 1
                else:
                    result.events.append(event)

    return result


def _reject(result: LogsParseResult | MetricsParseResult, skipped: SkippedRecord) -> None:
    result.rejected += 1
    if len(result.examples) < MAX_EXAMPLES:
        result.examples.append(skipped)
    logger.debug("rejected %s (%s): %s", skipped.location, skipped.name, skipped.reason)


# ---------------------------------------------------------------------------------------------
# Metrics


# metric name -> (tool, whether points carry a token `type` attribute)
COUNTER_METRICS: dict[str, tuple[str, bool]] = {
    "claude_code.token.usage": ("claude_code", True),
    "claude_code.cost.usage": ("claude_code", False),
    "gemini_cli.token.usage": ("gemini_cli", True),
}

_TEMPORALITY: dict[int, Literal["delta", "cumulative"]] = {
    AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA: "delta",
    AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE: "cumulative",
}


def _counter_point(
    point: NumberDataPoint,
    metric_name: str,
    temporality: int,
    context: _Context,
) -> CounterPoint:
    tool, typed = COUNTER_METRICS[metric_name]

    kind = point.WhichOneof("value")
    if kind is None:
        raise _Rejected("data point has neither asInt nor asDouble")
    value = Decimal(point.as_int) if kind == "as_int" else Decimal(repr(point.as_double))
    if not value.is_finite() or value < 0:
        raise _Rejected(f"counter value is {value}, expected a finite value >= 0")

    if temporality not in _TEMPORALITY:
        raise _Rejected(
            f"aggregation temporality is {temporality}, expected delta (1) or cumulative (2)"
        )
    if not point.time_unix_nano:
        raise _Rejected("data point has no timeUnixNano")

    token_type = context.first("type") if typed else None
    if typed and token_type is None:
        raise _Rejected("token counter point without a `type` attribute")

    series_key = _digest(
        metric_name,
        context.scope_name,
        json.dumps(sorted(context.record.items()), default=str),
        json.dumps(sorted(context.resource.items()), default=str),
    )
    return CounterPoint(
        tool=tool,
        metric=metric_name,
        token_type=token_type,
        session_id=context.first("session.id"),
        model=context.first("model"),
        series_key=series_key,
        temporality=_TEMPORALITY[temporality],
        start_time=_from_nanos(point.start_time_unix_nano) if point.start_time_unix_nano else None,
        time=_from_nanos(point.time_unix_nano),
        value=value,
        **_attribution(context),
    )


def _data_point_count(metric: Any) -> int:
    kind = metric.WhichOneof("data")
    return len(getattr(metric, kind).data_points) if kind else 0


def parse_metrics(request: ExportMetricsServiceRequest) -> MetricsParseResult:
    """Turn the token and cost counters of an OTLP metrics export into `CounterPoint`s."""
    result = MetricsParseResult()

    for resource_index, resource_metrics in enumerate(request.resource_metrics):
        resource = attributes_dict(resource_metrics.resource.attributes)

        for scope_index, scope_metrics in enumerate(resource_metrics.scope_metrics):
            for metric_index, metric in enumerate(scope_metrics.metrics):
                point_count = _data_point_count(metric)
                result.received += point_count
                metric_location = (
                    f"resourceMetrics[{resource_index}].scopeMetrics[{scope_index}]"
                    f".metrics[{metric_index}]"
                )

                if metric.name not in COUNTER_METRICS:
                    result.ignored += point_count
                    continue

                if metric.WhichOneof("data") != "sum":
                    reason = f"expected a sum (counter), found {metric.WhichOneof('data')}"
                    for point_index in range(point_count):
                        location = f"{metric_location}.dataPoints[{point_index}]"
                        _reject(
                            result,
                            SkippedRecord(location=location, name=metric.name, reason=reason),
                        )
                    continue

                temporality = metric.sum.aggregation_temporality
                for point_index, point in enumerate(metric.sum.data_points):
                    context = _Context(
                        attributes_dict(point.attributes), resource, scope_metrics.scope.name
                    )
                    try:
                        result.points.append(
                            _counter_point(point, metric.name, temporality, context)
                        )
                    except _Rejected as exc:
                        location = f"{metric_location}.sum.dataPoints[{point_index}]"
                        _reject(
                            result,
                            SkippedRecord(location=location, name=metric.name, reason=str(exc)),
                        )

    return result
