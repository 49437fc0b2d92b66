"""Reading OTLP log and metric exports into usage events and counter points.

Requests are built with the OpenTelemetry SDK and its OTLP encoders, the same code the
exporters run, and the OTLP/JSON variants are encoded from those requests.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from headstart.ledger.otlp import (
    JSON,
    MAX_EXAMPLES,
    PROTOBUF,
    OtlpDecodeError,
    decode_logs_request,
    decode_metrics_request,
    parse_logs,
    parse_metrics,
)

CLAUDE_RESOURCE = {"service.name": "claude-code", "service.version": "2.1.0", "team.id": "platform"}
CLAUDE_SCOPE = "com.anthropic.claude_code.events"
TRACE_ID = 0x5B8EFFF798038103D269B633813FC60C
SPAN_ID = 0xEEE19B7EC3C1B174


def claude_request(**overrides: Any) -> dict[str, Any]:
    """Attributes of a Claude Code api_request event, with numbers as strings like Claude Code."""
    attributes = {
        "event.name": "api_request",
        "event.timestamp": "2026-11-30T09:15:00.250Z",
        "session.id": "sess-1",
        "prompt.id": "prompt-1",
        "user.email": "ada@example.com",
        "organization.id": "org-1",
        "model": "claude-sonnet-4-5",
        "input_tokens": "3",
        "output_tokens": "550",
        "cache_read_tokens": "0",
        "cache_creation_tokens": "12304",
        "cost_usd": "0.054399",
        "duration_ms": "4210",
        "request_id": "req_011CXa",
    }
    attributes.update(overrides)
    return {key: value for key, value in attributes.items() if value is not None}


def logs_request(
    records: list[tuple[str, dict[str, Any]]],
    resource: dict[str, Any] | None = None,
    scope: str = CLAUDE_SCOPE,
) -> ExportLogsServiceRequest:
    """Emit (body, attributes) records through the SDK and encode them as the exporter would."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create(resource or CLAUDE_RESOURCE))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger(scope)
    for body, attributes in records:
        record = LogRecord(body=body, attributes=attributes, trace_id=TRACE_ID, span_id=SPAN_ID)
        logger.emit(record)
    return encode_logs(exporter.get_finished_logs())


def otlp_json(request: Any) -> bytes:
    """Encode a request as OTLP/JSON: lowerCamelCase names, hex ids, 64-bit integers as strings."""
    document = json_format.MessageToDict(request)

    def hex_ids(value: Any) -> Any:
        if isinstance(value, list):
            return [hex_ids(item) for item in value]
        if isinstance(value, dict):
            return {
                key: base64.b64decode(item).hex() if key in ("traceId", "spanId") else hex_ids(item)
                for key, item in value.items()
            }
        return value

    return json.dumps(hex_ids(document)).encode()


def test_claude_code_request_fields() -> None:
    result = parse_logs(logs_request([("claude_code.api_request", claude_request())]))

    assert result.received == 1
    assert result.rejected == 0
    event = result.events[0]
    assert event.tool == "claude_code"
    assert event.source == "otlp"
    assert event.model == "claude-sonnet-4-5"
    assert event.session_id == "sess-1"
    assert event.request_id == "req_011CXa"
    assert event.dedup_key == "claude_code:req:req_011CXa"
    assert event.timestamp == datetime(2026, 11, 30, 9, 15, 0, 250000, tzinfo=UTC)
    assert event.input_tokens == 3
    assert event.cache_write_5m_tokens == 12304
    assert event.cache_read_tokens == 0
    assert event.output_tokens == 550
    assert event.reported_cost_usd == Decimal("0.054399")


def test_claude_code_attribution() -> None:
    result = parse_logs(logs_request([("claude_code.api_request", claude_request())]))

    event = result.events[0]
    assert event.engineer == "ada@example.com"
    assert event.organization == "org-1"
    # team.id comes from OTEL_RESOURCE_ATTRIBUTES, so it sits on the resource, not the record.
    assert event.team == "platform"
    assert event.attributes["resource"]["team.id"] == "platform"


def test_claude_code_numbers_as_ints() -> None:
    attributes = claude_request(input_tokens=7, output_tokens=9.0, cost_usd=0.5)
    event = parse_logs(logs_request([("claude_code.api_request", attributes)])).events[0]

    assert event.input_tokens == 7
    assert event.output_tokens == 9
    assert event.reported_cost_usd == Decimal("0.5")


def test_claude_code_without_request_id() -> None:
    first = claude_request(request_id=None)
    again = claude_request(request_id=None)
    other_prompt = claude_request(request_id=None, **{"prompt.id": "prompt-2"})
    result = parse_logs(
        logs_request(
            [
                ("claude_code.api_request", first),
                ("claude_code.api_request", again),
                ("claude_code.api_request", other_prompt),
            ]
        )
    )

    keys = [event.dedup_key for event in result.events]
    assert keys[0] == keys[1]
    assert keys[0] != keys[2]
    assert keys[0].startswith("claude_code:otlp:")


def test_claude_code_bare_name_needs_claude_sender() -> None:
    # Other agents (opencode, for one) also emit an event named "api_request".
    foreign = logs_request(
        [("api_request", claude_request())], resource={"service.name": "opencode"}, scope="opencode"
    )
    own = logs_request([("api_request", claude_request())])

    assert parse_logs(foreign).events == []
    assert parse_logs(foreign).ignored == 1
    assert len(parse_logs(own).events) == 1


def test_other_events_ignored() -> None:
    request = logs_request(
        [
            ("claude_code.user_prompt", {"event.name": "user_prompt", "prompt_length": "12"}),
            ("claude_code.tool_result", {"event.name": "tool_result", "tool_name": "Bash"}),
            ("claude_code.api_request", claude_request()),
        ]
    )
    result = parse_logs(request)

    assert result.received == 3
    assert result.ignored == 2
    assert result.rejected == 0
    assert len(result.events) == 1


def test_bad_record_keeps_others() -> None:
    request = logs_request(
        [
            ("claude_code.api_request", claude_request(request_id="req_a")),
            ("claude_code.api_request", claude_request(request_id="req_b", input_tokens="lots")),
            ("claude_code.api_request", claude_request(request_id="req_c")),
        ]
    )
    result = parse_logs(request)

    assert [event.request_id for event in result.events] == ["req_a", "req_c"]
    assert result.rejected == 1
    example = result.examples[0]
    assert example.location == "resourceLogs[0].scopeLogs[0].logRecords[1]"
    assert example.name == "api_request"
    assert "input_tokens is 'lots'" in example.reason


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"output_tokens": "-5"}, "output_tokens is '-5'"),
        ({"cache_read_tokens": "1.5"}, "cache_read_tokens is '1.5'"),
        ({"cost_usd": "free"}, "cost_usd is 'free'"),
        ({"event.timestamp": "yesterday"}, "event.timestamp is 'yesterday'"),
        (
            {
                "input_tokens": None,
                "output_tokens": None,
                "cache_read_tokens": None,
                "cache_creation_tokens": None,
            },
            "without input_tokens",
        ),
    ],
)
def test_claude_code_rejects(overrides: dict[str, Any], reason: str) -> None:
    result = parse_logs(logs_request([("claude_code.api_request", claude_request(**overrides))]))

    assert result.events == []
    assert result.rejected == 1
    assert reason in result.examples[0].reason


def test_examples_are_capped() -> None:
    bad = [
        ("claude_code.api_request", claude_request(input_tokens="x"))
        for _ in range(MAX_EXAMPLES + 3)
    ]
    result = parse_logs(logs_request(bad))

    assert result.rejected == MAX_EXAMPLES + 3
    assert len(result.examples) == MAX_EXAMPLES


def test_timestamp_falls_back_to_record_time() -> None:
    request = logs_request(
        [("claude_code.api_request", claude_request(**{"event.timestamp": None}))]
    )
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    record.time_unix_nano = 1_764_494_100_000_000_000

    event = parse_logs(request).events[0]

    assert event.timestamp == datetime.fromtimestamp(1_764_494_100, tz=UTC)


CODEX_RESOURCE = {"service.name": "codex_cli_rs", "service.version": "0.60.0"}


def codex_completed(**overrides: Any) -> dict[str, Any]:
    attributes = {
        "event.name": "codex.sse_event",
        "event.kind": "response.completed",
        "event.timestamp": "2026-11-30T10:00:00.000Z",
        "conversation.id": "conv-1",
        "model": "gpt-5.1-codex",
        "user.email": "grace@example.com",
        "input_token_count": "1000000",
        "cached_token_count": "800000",
        "output_token_count": "125",
        "reasoning_token_count": "75",
        "tool_token_count": "0",
    }
    attributes.update(overrides)
    return {key: value for key, value in attributes.items() if value is not None}


def test_codex_cached_inside_input() -> None:
    request = logs_request([("", codex_completed())], resource=CODEX_RESOURCE, scope="codex_otel")
    event = parse_logs(request).events[0]

    assert event.tool == "codex"
    assert event.session_id == "conv-1"
    assert event.engineer == "grace@example.com"
    assert event.input_tokens == 200_000
    assert event.cache_read_tokens == 800_000


def test_codex_reasoning_inside_output() -> None:
    request = logs_request([("", codex_completed())], resource=CODEX_RESOURCE, scope="codex_otel")
    event = parse_logs(request).events[0]

    assert event.output_tokens == 125
    assert event.reasoning_tokens == 75


def test_codex_same_event_same_key() -> None:
    request = logs_request(
        [
            ("", codex_completed()),
            ("", codex_completed()),
            ("", codex_completed(output_token_count="126")),
        ],
        resource=CODEX_RESOURCE,
        scope="codex_otel",
    )
    keys = [event.dedup_key for event in parse_logs(request).events]

    assert keys[0] == keys[1]
    assert keys[0] != keys[2]


def test_codex_events_without_usage() -> None:
    request = logs_request(
        [
            (
                "",
                {
                    "event.name": "codex.api_request",
                    "duration_ms": "800",
                    "conversation.id": "conv-1",
                },
            ),
            ("", {"event.name": "codex.sse_event", "event.kind": "response.output_item.done"}),
            # A failed completion is reported under the same kind, without counts.
            (
                "",
                {
                    "event.name": "codex.sse_event",
                    "event.kind": "response.completed",
                    "error.message": "x",
                },
            ),
        ],
        resource=CODEX_RESOURCE,
        scope="codex_otel",
    )
    result = parse_logs(request)

    assert result.events == []
    assert result.ignored == 3
    assert result.rejected == 0


def test_codex_cached_above_input_rejected() -> None:
    attributes = codex_completed(input_token_count="10", cached_token_count="20")
    result = parse_logs(
        logs_request([("", attributes)], resource=CODEX_RESOURCE, scope="codex_otel")
    )

    assert result.rejected == 1
    assert "exceeds input_token_count" in result.examples[0].reason


GEMINI_RESOURCE = {"service.name": "gemini-cli", "session.id": "gem-sess"}


def gemini_response(**overrides: Any) -> dict[str, Any]:
    attributes = {
        "event.name": "gemini_cli.api_response",
        "event.timestamp": "2026-11-30T11:00:00.000Z",
        "session.id": "gem-sess",
        "user.email": "linus@example.com",
        "model": "gemini-2.5-pro",
        "prompt_id": "p-1",
        "duration_ms": 900,
        "status_code": 200,
        "input_token_count": 29065,
        "cached_content_token_count": 28634,
        "output_token_count": 40,
        "thoughts_token_count": 60,
        "tool_token_count": 0,
        "total_token_count": 29165,
        "response_text": "the model's answer, not for the ledger",
    }
    attributes.update(overrides)
    return attributes


def test_gemini_cached_inside_input() -> None:
    request = logs_request(
        [("API response", gemini_response())], resource=GEMINI_RESOURCE, scope="gemini-cli"
    )
    event = parse_logs(request).events[0]

    assert event.tool == "gemini_cli"
    assert event.session_id == "gem-sess"
    assert event.input_tokens == 431
    assert event.cache_read_tokens == 28634


def test_gemini_thoughts_added_to_output() -> None:
    request = logs_request(
        [("API response", gemini_response())], resource=GEMINI_RESOURCE, scope="gemini-cli"
    )
    event = parse_logs(request).events[0]

    assert event.output_tokens == 100
    assert event.reasoning_tokens == 60


def test_gemini_tool_prompt_is_input() -> None:
    request = logs_request(
        [("API response", gemini_response(tool_token_count=50))],
        resource=GEMINI_RESOURCE,
        scope="gemini-cli",
    )
    event = parse_logs(request).events[0]

    assert event.input_tokens == 481


def test_gemini_response_text_dropped() -> None:
    request = logs_request(
        [("API response", gemini_response())], resource=GEMINI_RESOURCE, scope="gemini-cli"
    )
    event = parse_logs(request).events[0]

    assert "response_text" not in event.attributes
    assert event.attributes["prompt_id"] == "p-1"


def test_gemini_genai_event_not_counted_twice() -> None:
    # Gemini CLI repeats each response as a GenAI semantic-convention event with the same usage.
    semantic = {
        "event.name": "gen_ai.client.inference.operation.details",
        "gen_ai.usage.input_tokens": 29065,
        "gen_ai.usage.output_tokens": 40,
    }
    request = logs_request(
        [("API response", gemini_response()), ("GenAI operation details", semantic)],
        resource=GEMINI_RESOURCE,
        scope="gemini-cli",
    )
    result = parse_logs(request)

    assert len(result.events) == 1
    assert result.ignored == 1


def test_json_matches_protobuf() -> None:
    request = logs_request(
        [
            ("claude_code.api_request", claude_request()),
            ("claude_code.api_request", claude_request(request_id=None, input_tokens="8")),
        ]
    )

    from_protobuf = decode_logs_request(request.SerializeToString(), PROTOBUF)
    from_json = decode_logs_request(otlp_json(request), JSON)

    assert from_json == from_protobuf
    assert parse_logs(from_json).events == parse_logs(from_protobuf).events


def test_json_hex_trace_id() -> None:
    body = otlp_json(logs_request([("claude_code.api_request", claude_request())]))
    assert '"traceId": "5b8efff798038103d269b633813fc60c"' in body.decode()

    decoded = decode_logs_request(body, JSON)

    record = decoded.resource_logs[0].scope_logs[0].log_records[0]
    assert record.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert record.span_id.hex() == "eee19b7ec3c1b174"


def test_json_unknown_fields_ignored() -> None:
    document = json.loads(otlp_json(logs_request([("claude_code.api_request", claude_request())])))
    document["resourceLogs"][0]["futureField"] = {"a": 1}

    decoded = decode_logs_request(json.dumps(document).encode(), JSON)

    assert len(parse_logs(decoded).events) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"not a protobuf message", PROTOBUF, "invalid protobuf ExportLogsServiceRequest"),
        (b'{"resourceLogs": [', JSON, "invalid JSON"),
        (b"\xff\xfe", JSON, "invalid JSON"),
        (b"[1, 2]", JSON, "expected a JSON object"),
        (b'{"resourceLogs": "many"}', JSON, "invalid OTLP/JSON"),
        (b"{}", "text/plain", "unsupported content type 'text/plain'"),
    ],
)
def test_decode_errors(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(OtlpDecodeError, match=message):
        decode_logs_request(body, content_type)


def metrics_request(
    temporality: AggregationTemporality, adds: list[tuple[str, float, dict[str, Any]]]
) -> ExportMetricsServiceRequest:
    reader = InMemoryMetricReader(preferred_temporality={Counter: temporality})
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create(CLAUDE_RESOURCE))
    meter = provider.get_meter("com.anthropic.claude_code")
    counters: dict[str, Any] = {}
    for name, amount, attributes in adds:
        counter = counters.setdefault(name, meter.create_counter(name))
        counter.add(amount, attributes)
    return encode_metrics(reader.get_metrics_data())


def test_metrics_token_and_cost_points() -> None:
    labels = {"session.id": "sess-1", "model": "claude-sonnet-4-5", "user.email": "ada@example.com"}
    request = metrics_request(
        AggregationTemporality.DELTA,
        [
            ("claude_code.token.usage", 550, {**labels, "type": "output"}),
            ("claude_code.token.usage", 3, {**labels, "type": "input"}),
            ("claude_code.cost.usage", 0.054399, labels),
            ("claude_code.session.count", 1, labels),
        ],
    )
    result = parse_metrics(request)

    assert result.received == 4
    assert result.ignored == 1
    assert result.rejected == 0
    by_type = {point.token_type: point for point in result.points}
    assert by_type["output"].value == 550
    assert by_type["output"].temporality == "delta"
    assert by_type["output"].session_id == "sess-1"
    assert by_type["output"].team == "platform"
    assert by_type[None].metric == "claude_code.cost.usage"
    assert by_type[None].value == Decimal("0.054399")
    assert by_type["output"].series_key != by_type["input"].series_key


def test_metrics_cumulative_temporality() -> None:
    request = metrics_request(
        AggregationTemporality.CUMULATIVE,
        [("claude_code.token.usage", 10, {"type": "input", "model": "m", "session.id": "s"})],
    )
    point = parse_metrics(request).points[0]

    assert point.temporality == "cumulative"
    assert point.start_time is not None
    assert point.start_time <= point.time


def test_metrics_json_matches_protobuf() -> None:
    request = metrics_request(
        AggregationTemporality.DELTA,
        [("claude_code.token.usage", 10, {"type": "input", "model": "m", "session.id": "s"})],
    )

    from_json = decode_metrics_request(otlp_json(request), JSON)

    assert from_json == request
    assert parse_metrics(from_json).points == parse_metrics(request).points


def test_metrics_bad_points_rejected() -> None:
    request = metrics_request(
        AggregationTemporality.DELTA,
        [
            ("claude_code.token.usage", 10, {"model": "m", "session.id": "s"}),
            ("claude_code.token.usage", 20, {"type": "input", "model": "m", "session.id": "s"}),
        ],
    )
    # A gauge under a counter's name cannot be summed.
    gauge = request.resource_metrics[0].scope_metrics[0].metrics.add()
    gauge.name = "claude_code.cost.usage"
    gauge.gauge.data_points.add(as_double=1.0, time_unix_nano=1)

    result = parse_metrics(request)

    assert [point.value for point in result.points] == [20]
    assert result.rejected == 2
    reasons = [example.reason for example in result.examples]
    assert "token counter point without a `type` attribute" in reasons
    assert "expected a sum (counter), found gauge" in reasons
