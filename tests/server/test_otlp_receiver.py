"""The OTLP receiver and push endpoint, served by uvicorn on a free loopback port.

Protobuf requests come from the OpenTelemetry SDK's OTLP/HTTP exporters; OTLP/JSON requests are
the same ExportLogsServiceRequest encoded with json_format and hex trace ids.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExportResult,
)
from opentelemetry.sdk.resources import Resource
from sqlalchemy import func, select

from headstart.config import Settings
from headstart.ledger.crosscheck import crosscheck_totals
from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.events import UsageEvent
from headstart.ledger.models import UsageRecord
from headstart.server.otlp import build_otlp_router

TOKEN = "s3cret-token"
RESOURCE = {"service.name": "claude-code", "team.id": "platform"}


def claude_request(request_id: str | None = "req_1", **overrides: Any) -> dict[str, Any]:
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
        "request_id": request_id,
    }
    attributes.update(overrides)
    return {key: value for key, value in attributes.items() if value is not None}


def log_batch(records: list[dict[str, Any]]) -> list[Any]:
    """Run attributes through the SDK and return the records an exporter is handed."""
    collected = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create(RESOURCE))
    provider.add_log_record_processor(SimpleLogRecordProcessor(collected))
    logger = provider.get_logger("com.anthropic.claude_code.events")
    for attributes in records:
        logger.emit(
            LogRecord(
                body="claude_code.api_request",
                attributes=attributes,
                trace_id=0x5B8EFFF798038103D269B633813FC60C,
                span_id=0xEEE19B7EC3C1B174,
            )
        )
    return list(collected.get_finished_logs())


def otlp_json(records: list[dict[str, Any]]) -> bytes:
    document = json_format.MessageToDict(encode_logs(log_batch(records)))

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


def protobuf(records: list[dict[str, Any]]) -> bytes:
    return encode_logs(log_batch(records)).SerializeToString()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    yield opened
    opened.close()


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run the app with uvicorn on a free loopback port, in a thread, and yield its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 10 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def app_for(settings: Settings, ledger: Ledger, **options: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(build_otlp_router(settings, lambda: ledger, **options))
    return app


@pytest.fixture
def url(ledger: Ledger, tmp_path: Path) -> Iterator[str]:
    """A server without a token."""
    with serve(app_for(Settings(data_dir=tmp_path, api_token=None), ledger)) as served:
        yield served


@pytest.fixture
def secured_url(ledger: Ledger, tmp_path: Path) -> Iterator[str]:
    with serve(app_for(Settings(data_dir=tmp_path, api_token=TOKEN), ledger)) as served:
        yield served


@pytest.fixture
def small_url(ledger: Ledger, tmp_path: Path) -> Iterator[str]:
    """A server that takes bodies of at most 4 KiB."""
    settings = Settings(data_dir=tmp_path, api_token=None)
    with serve(app_for(settings, ledger, max_body_bytes=4096)) as served:
        yield served


def records(ledger: Ledger) -> list[UsageRecord]:
    with ledger.session() as session:
        return list(session.scalars(select(UsageRecord).order_by(UsageRecord.request_id)))


def record_count(ledger: Ledger) -> int:
    with ledger.session() as session:
        return session.scalar(select(func.count()).select_from(UsageRecord)) or 0


def test_logs_protobuf_exporter(url: str, ledger: Ledger) -> None:
    exporter = OTLPLogExporter(endpoint=f"{url}/v1/logs", compression=Compression.Gzip)

    result = exporter.export(log_batch([claude_request()]))

    assert result == LogRecordExportResult.SUCCESS
    [row] = records(ledger)
    assert row.tool == "claude_code"
    assert row.source == "otlp"
    assert row.request_id == "req_1"
    assert row.input_tokens == 3
    assert row.cache_write_5m_tokens == 12304
    assert row.output_tokens == 550
    assert row.reported_cost == Decimal("0.054399")
    assert row.organization == "org-1"


ILLUSTRATIVE_PRICES = """
version = "illustrative"

[models."test-sonnet"]
input_mtok = 3
output_mtok = 15
cache_read_mtok = 0.30
cache_write_mtok = 3.75
"""


def test_logs_priced_with_settings_prices(ledger: Ledger, tmp_path: Path) -> None:
    # Cache writes are priced at the write rate only: $0.054399, not $0.091311.
    prices_file = tmp_path / "prices.toml"
    prices_file.write_text(ILLUSTRATIVE_PRICES)
    settings = Settings(data_dir=tmp_path, api_token=None, prices_file=prices_file)
    with serve(app_for(settings, ledger)) as url:
        exporter = OTLPLogExporter(endpoint=f"{url}/v1/logs")
        result = exporter.export(log_batch([claude_request(model="test-sonnet")]))

    assert result == LogRecordExportResult.SUCCESS
    [row] = records(ledger)
    assert row.priced is True
    assert row.computed_cost == Decimal("0.054399")


def test_logs_sent_twice_counted_once(url: str, ledger: Ledger) -> None:
    exporter = OTLPLogExporter(endpoint=f"{url}/v1/logs")
    batch = log_batch([claude_request("req_1"), claude_request("req_2")])

    assert exporter.export(batch) == LogRecordExportResult.SUCCESS
    assert exporter.export(batch) == LogRecordExportResult.SUCCESS

    assert record_count(ledger) == 2


def test_logs_json(url: str, ledger: Ledger) -> None:
    response = httpx.post(
        f"{url}/v1/logs",
        content=otlp_json([claude_request()]),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    assert [row.request_id for row in records(ledger)] == ["req_1"]


def test_logs_json_and_protobuf_agree(url: str, ledger: Ledger) -> None:
    batch = [claude_request("req_1"), claude_request(None, **{"prompt.id": "prompt-9"})]

    httpx.post(
        f"{url}/v1/logs",
        content=protobuf(batch),
        headers={"Content-Type": "application/x-protobuf"},
    )
    httpx.post(
        f"{url}/v1/logs", content=otlp_json(batch), headers={"Content-Type": "application/json"}
    )

    assert record_count(ledger) == 2


def test_partial_success_protobuf(url: str, ledger: Ledger) -> None:
    batch = [claude_request("req_1"), claude_request("req_2", output_tokens="many")]

    response = httpx.post(
        f"{url}/v1/logs",
        content=protobuf(batch),
        headers={"Content-Type": "application/x-protobuf"},
    )

    assert response.status_code == 200
    answer = ExportLogsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_log_records == 1
    assert "output_tokens is 'many'" in answer.partial_success.error_message
    assert "logRecords[1]" in answer.partial_success.error_message
    assert [row.request_id for row in records(ledger)] == ["req_1"]


def test_partial_success_json(url: str, ledger: Ledger) -> None:
    batch = [claude_request("req_1", input_tokens="-1"), claude_request("req_2")]

    response = httpx.post(
        f"{url}/v1/logs", content=otlp_json(batch), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert "input_tokens is '-1'" in partial["errorMessage"]
    assert [row.request_id for row in records(ledger)] == ["req_2"]


def test_unparseable_protobuf_400(url: str, ledger: Ledger) -> None:
    response = httpx.post(
        f"{url}/v1/logs",
        content=b"not a protobuf message",
        headers={"Content-Type": "application/x-protobuf"},
    )

    assert response.status_code == 400
    status = Status.FromString(response.content)
    assert status.code == 3
    assert "invalid protobuf ExportLogsServiceRequest" in status.message


def test_unparseable_json_400(url: str) -> None:
    response = httpx.post(
        f"{url}/v1/logs",
        content=b'{"resourceLogs": [',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == 3
    assert "invalid JSON" in response.json()["message"]


def test_bad_requests_logged_once(url: str, caplog: pytest.LogCaptureFixture) -> None:
    headers = {"Content-Type": "application/x-protobuf"}
    with caplog.at_level(logging.WARNING, logger="headstart.server.otlp"):
        for _ in range(3):
            httpx.post(f"{url}/v1/logs", content=b"not a protobuf message", headers=headers)

    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert "/v1/logs from 127.0.0.1:" in warnings[0]
    assert "returned 400: invalid protobuf ExportLogsServiceRequest" in warnings[0]


def test_bad_request_keeps_earlier_records(url: str, ledger: Ledger) -> None:
    headers = {"Content-Type": "application/x-protobuf"}
    httpx.post(f"{url}/v1/logs", content=protobuf([claude_request("req_1")]), headers=headers)

    bad = httpx.post(f"{url}/v1/logs", content=b"\x0a\xff\xff\xff", headers=headers)

    assert bad.status_code == 400
    assert [row.request_id for row in records(ledger)] == ["req_1"]


def test_unsupported_media_type(url: str) -> None:
    response = httpx.post(
        f"{url}/v1/logs", content=b"hello", headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 415
    assert "unsupported Content-Type 'text/plain'" in response.json()["message"]


def test_oversized_body_413(small_url: str, ledger: Ledger) -> None:
    body = protobuf([claude_request(f"req_{index}") for index in range(40)])
    assert len(body) > 4096

    response = httpx.post(
        f"{small_url}/v1/logs", content=body, headers={"Content-Type": "application/x-protobuf"}
    )

    assert response.status_code == 413
    assert Status.FromString(response.content).code == 8
    assert record_count(ledger) == 0


def test_oversized_chunked_body_413(small_url: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"\x00" * 1024

    response = httpx.post(
        f"{small_url}/v1/logs", content=chunks(), headers={"Content-Type": "application/x-protobuf"}
    )

    assert response.status_code == 413


def test_gzip_expanding_past_limit_413(small_url: str) -> None:
    body = gzip.compress(b"\x00" * 1_000_000)
    assert len(body) < 4096

    response = httpx.post(
        f"{small_url}/v1/logs",
        content=body,
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )

    assert response.status_code == 413
    assert "decompressed body exceeds 4096 bytes" in Status.FromString(response.content).message


def test_invalid_gzip_400(url: str) -> None:
    response = httpx.post(
        f"{url}/v1/logs",
        content=b"plainly not gzip",
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )

    assert response.status_code == 400


def test_token_required(secured_url: str, ledger: Ledger) -> None:
    body = protobuf([claude_request()])
    headers = {"Content-Type": "application/x-protobuf"}

    missing = httpx.post(f"{secured_url}/v1/logs", content=body, headers=headers)
    wrong = httpx.post(
        f"{secured_url}/v1/logs", content=body, headers={**headers, "Authorization": "Bearer nope"}
    )

    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401
    assert record_count(ledger) == 0


@pytest.mark.parametrize(
    "auth",
    [
        {"Authorization": f"Bearer {TOKEN}"},
        {"authorization": f"bearer {TOKEN}"},
        {"x-headstart-token": TOKEN},
    ],
)
def test_token_accepted(secured_url: str, ledger: Ledger, auth: dict[str, str]) -> None:
    response = httpx.post(
        f"{secured_url}/v1/logs",
        content=protobuf([claude_request()]),
        headers={"Content-Type": "application/x-protobuf", **auth},
    )

    assert response.status_code == 200
    assert record_count(ledger) == 1


def test_token_from_otel_headers_env(
    secured_url: str, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = log_batch([claude_request()])
    without = OTLPLogExporter(endpoint=f"{secured_url}/v1/logs")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"x-headstart-token={TOKEN}")
    configured = OTLPLogExporter(endpoint=f"{secured_url}/v1/logs")

    assert without.export(batch) == LogRecordExportResult.FAILURE
    assert configured.export(batch) == LogRecordExportResult.SUCCESS
    assert record_count(ledger) == 1


def test_ledger_failure_503(tmp_path: Path) -> None:
    # A database without the ledger's tables fails every write, as a broken database would.
    broken = open_ledger(f"sqlite:///{tmp_path / 'empty.sqlite3'}", upgrade=False)
    try:
        with serve(app_for(Settings(data_dir=tmp_path, api_token=None), broken)) as url:
            response = httpx.post(
                f"{url}/v1/logs",
                content=protobuf([claude_request()]),
                headers={"Content-Type": "application/x-protobuf"},
            )
    finally:
        broken.close()

    assert response.status_code == 503
    assert "retry later" in Status.FromString(response.content).message


def test_traces_accepted(url: str) -> None:
    response = httpx.post(
        f"{url}/v1/traces", content=b"", headers={"Content-Type": "application/x-protobuf"}
    )

    assert response.status_code == 200


def metric_exports(temporality: AggregationTemporality, adds: list[int]) -> list[Any]:
    """Collect the counter once after each add, as a periodic reader would between exports."""
    reader = InMemoryMetricReader(preferred_temporality={Counter: temporality})
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create(RESOURCE))
    counter = provider.get_meter("com.anthropic.claude_code").create_counter(
        "claude_code.token.usage"
    )
    exports = []
    for amount in adds:
        counter.add(
            amount, {"type": "output", "model": "claude-sonnet-4-5", "session.id": "sess-1"}
        )
        exports.append(reader.get_metrics_data())
    return exports


def output_totals(ledger: Ledger) -> list[int]:
    with ledger.session() as session:
        return [total.output_tokens for total in crosscheck_totals(session)]


def test_metrics_delta(url: str, ledger: Ledger) -> None:
    exporter = OTLPMetricExporter(endpoint=f"{url}/v1/metrics", compression=Compression.Gzip)

    for data in metric_exports(AggregationTemporality.DELTA, [100, 40]):
        assert exporter.export(data) == MetricExportResult.SUCCESS

    assert output_totals(ledger) == [140]


def test_metrics_cumulative_resent(url: str, ledger: Ledger) -> None:
    exporter = OTLPMetricExporter(endpoint=f"{url}/v1/metrics")
    first, second = metric_exports(AggregationTemporality.CUMULATIVE, [100, 40])

    for data in (first, first, second, second):
        assert exporter.export(data) == MetricExportResult.SUCCESS

    assert output_totals(ledger) == [140]


def test_metrics_unparseable_400(url: str) -> None:
    response = httpx.post(
        f"{url}/v1/metrics", content=b"[]", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert "expected a JSON object" in response.json()["message"]


def pushed_event(key: str, **overrides: Any) -> dict[str, Any]:
    event = UsageEvent(
        source="claude_code_log",
        dedup_key=key,
        tool="claude_code",
        timestamp="2026-11-30T09:15:00Z",  # type: ignore[arg-type]
        model="claude-sonnet-4-5",
        session_id="sess-7",
        request_id=key,
        input_tokens=10,
        output_tokens=20,
        engineer="ada@example.com",
    )
    return {**event.model_dump(mode="json"), **overrides}


def test_push_events(secured_url: str, ledger: Ledger) -> None:
    events = [pushed_event("req_a"), pushed_event("req_b")]
    headers = {"Authorization": f"Bearer {TOKEN}"}

    first = httpx.post(f"{secured_url}/v1/ledger/events", json=events, headers=headers)
    again = httpx.post(f"{secured_url}/v1/ledger/events", json=events, headers=headers)

    assert first.status_code == 200
    assert first.json()["accepted"] == 2
    assert first.json()["ingest"]["inserted"] == 2
    assert again.json()["ingest"]["inserted"] == 0
    assert again.json()["ingest"]["duplicates"] == 2
    assert [row.request_id for row in records(ledger)] == ["req_a", "req_b"]


def test_push_bad_items_rejected(url: str, ledger: Ledger) -> None:
    events = [pushed_event("req_a", input_tokens="lots"), pushed_event("req_b"), {"tool": "codex"}]

    response = httpx.post(f"{url}/v1/ledger/events", json=events)

    body = response.json()
    assert response.status_code == 200
    assert body["received"] == 3
    assert body["accepted"] == 1
    assert body["rejected"] == 2
    assert body["examples"][0].startswith("[0] input_tokens:")
    assert body["examples"][1].startswith("[2] ")
    assert [row.request_id for row in records(ledger)] == ["req_b"]


def test_push_not_a_list_400(url: str) -> None:
    response = httpx.post(f"{url}/v1/ledger/events", json={"events": []})

    assert response.status_code == 400
    assert "expected a JSON list of usage events, found dict" in response.json()["message"]


def test_push_needs_token(secured_url: str, ledger: Ledger) -> None:
    response = httpx.post(f"{secured_url}/v1/ledger/events", json=[pushed_event("req_a")])

    assert response.status_code == 401
    assert record_count(ledger) == 0
