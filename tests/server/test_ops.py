"""Operations: /readyz, /metrics, request ids in JSON logs, and the body and concurrency limits."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from headstart.config import Settings
from headstart.errors import InputError
from headstart.logs import configure_logging
from headstart.server.app import build_app
from server.conftest import IndexedRepo

pytestmark = pytest.mark.slow

TOKEN = "ops-admin-token"
SCRAPER_TOKEN = "ops-scraper-token"
LOOPBACK = "http://127.0.0.1:8787"
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
# Nothing listens on port 1 of the loopback interface, so connecting fails at once.
UNREACHABLE_LEDGER = "postgresql+psycopg://postgres@127.0.0.1:1/headstart"


def settings_for(indexed: IndexedRepo, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings on the module's store with a ledger of the test's own."""
    values: dict[str, Any] = {
        "data_dir": indexed.data_dir,
        "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
    }
    return Settings(**{**values, **overrides})


@contextmanager
def client_for(indexed: IndexedRepo, settings: Settings) -> Iterator[TestClient]:
    app = build_app(settings, indexed.headstart(settings), repo=str(indexed.path))
    with TestClient(app, base_url=LOOPBACK) as client:
        yield client


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """Run the app with uvicorn on a free loopback port, in a thread, and yield its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 30 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def sample(text: str, name: str, **labels: str) -> float | None:
    """Return the value of one sample in a Prometheus text page, or None if it is absent."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return None


def pushed_event(key: str, timestamp: str = "2026-11-30T09:15:00Z") -> dict[str, Any]:
    return {
        "source": "claude_code_log",
        "dedup_key": key,
        "tool": "claude_code",
        "timestamp": timestamp,
        "model": "claude-sonnet-4-5",
        "request_id": key,
        "input_tokens": 10,
        "output_tokens": 20,
    }


# Readiness


def test_readyz_ready(indexed: IndexedRepo, tmp_path: Path) -> None:
    with client_for(indexed, settings_for(indexed, tmp_path)) as client:
        response = client.get("/readyz")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {
            "store": {"status": "ok", "repositories": 1},
            "ledger": {"status": "ok", "database": "sqlite"},
        },
    }


def test_readyz_names_the_failing_ledger(indexed: IndexedRepo, tmp_path: Path) -> None:
    settings = settings_for(indexed, tmp_path, ledger_url=UNREACHABLE_LEDGER)
    with client_for(indexed, settings) as client:
        response = client.get("/readyz")
        healthz = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["store"]["status"] == "ok"
    assert body["checks"]["ledger"]["status"] == "failed"
    assert "127.0.0.1" in body["checks"]["ledger"]["reason"]
    assert healthz.status_code == 200


def test_readyz_names_the_failing_store(indexed: IndexedRepo, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "store-is-a-file"
    not_a_folder.write_text("not a LanceDB database\n")
    settings = settings_for(indexed, tmp_path, db=str(not_a_folder))
    app = build_app(settings, repo=str(indexed.path))

    with TestClient(app, base_url=LOOPBACK) as client:
        response = client.get("/readyz")

    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["ledger"]["status"] == "ok"
    assert body["checks"]["store"]["status"] == "failed"
    assert body["checks"]["store"]["reason"]


def test_readyz_open_but_reasons_only_for_token_holders(
    indexed: IndexedRepo, tmp_path: Path
) -> None:
    settings = settings_for(indexed, tmp_path, ledger_url=UNREACHABLE_LEDGER, api_token=TOKEN)
    with client_for(indexed, settings) as client:
        anonymous = client.get("/readyz")
        holder = client.get("/readyz", headers={"Authorization": f"Bearer {TOKEN}"})

    assert anonymous.status_code == holder.status_code == 503
    assert anonymous.json()["checks"]["ledger"]["reason"] == "send the api_token to see the reason"
    assert "127.0.0.1" not in anonymous.text
    assert "127.0.0.1" in holder.json()["checks"]["ledger"]["reason"]


# Metrics


def test_metrics_count_requests_briefs_and_ingest(indexed: IndexedRepo, tmp_path: Path) -> None:
    with client_for(indexed, settings_for(indexed, tmp_path)) as client:
        before = client.get("/metrics").text
        brief = client.post("/v1/briefs", json={"task": "add retry to the HTTP client"})
        pushed = client.post("/v1/ledger/events", json=[pushed_event("ops-metrics-1")])
        after = client.get("/metrics")

    assert brief.status_code == 200, brief.text
    assert pushed.status_code == 200, pushed.text
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain; version=")
    text = after.text

    def delta(name: str, **labels: str) -> float:
        return (sample(text, name, **labels) or 0) - (sample(before, name, **labels) or 0)

    brief_labels = {"route": "/v1/briefs", "method": "POST", "status": "200"}
    assert delta("headstart_http_requests_total", **brief_labels) == 1
    assert delta("headstart_http_request_duration_seconds_count", **brief_labels) == 1
    assert delta("headstart_briefs_served_total", format="json") == 1
    assert delta("headstart_usage_events_ingested_total") == 1
    assert sample(text, "headstart_ledger_up") == 1
    assert sample(text, "headstart_store_up") == 1

    # The event is from 2026-11-30T09:15:00Z; the lag is measured from now.
    newest = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    expected = (datetime.now(UTC) - newest).total_seconds()
    lag = sample(text, "headstart_ingest_lag_seconds")
    assert lag is not None and abs(lag - expected) < 600

    repo = str(indexed.path)
    assert sample(text, "headstart_indexed_commits", repo=repo) == 14
    assert (sample(text, "headstart_index_age_seconds", repo=repo) or -1) >= 0


def test_metrics_ledger_down_reported(indexed: IndexedRepo, tmp_path: Path) -> None:
    settings = settings_for(indexed, tmp_path, ledger_url=UNREACHABLE_LEDGER)
    with client_for(indexed, settings) as client:
        text = client.get("/metrics").text

    assert sample(text, "headstart_ledger_up") == 0
    assert sample(text, "headstart_ingest_lag_seconds") is None
    assert sample(text, "headstart_store_up") == 1


@pytest.mark.parametrize(
    ("overrides", "headers", "status"),
    [
        ({"api_token": TOKEN}, {}, 401),
        ({"api_token": TOKEN}, {"Authorization": f"Bearer {TOKEN}"}, 200),
        ({"api_token": TOKEN}, {"Authorization": f"Bearer {SCRAPER_TOKEN}"}, 401),
        ({"api_token": TOKEN, "metrics_token": SCRAPER_TOKEN}, {}, 401),
        (
            {"api_token": TOKEN, "metrics_token": SCRAPER_TOKEN},
            {"Authorization": f"Bearer {SCRAPER_TOKEN}"},
            200,
        ),
        ({"api_token": TOKEN, "metrics_token": SCRAPER_TOKEN}, {"x-headstart-token": TOKEN}, 200),
        ({"metrics_token": SCRAPER_TOKEN}, {}, 401),
        ({"api_token": TOKEN, "metrics_open": True}, {}, 200),
        ({}, {}, 200),
    ],
)
def test_metrics_token(
    indexed: IndexedRepo,
    tmp_path: Path,
    overrides: dict[str, Any],
    headers: dict[str, str],
    status: int,
) -> None:
    with client_for(indexed, settings_for(indexed, tmp_path, **overrides)) as client:
        response = client.get("/metrics", headers=headers)

    assert response.status_code == status, response.text


def test_metrics_token_opens_nothing_else(indexed: IndexedRepo, tmp_path: Path) -> None:
    settings = settings_for(indexed, tmp_path, api_token=TOKEN, metrics_token=SCRAPER_TOKEN)
    scraper = {"Authorization": f"Bearer {SCRAPER_TOKEN}"}
    with client_for(indexed, settings) as client:
        brief = client.post("/v1/briefs", json={"task": "add retry"}, headers=scraper)
        tools = client.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={**MCP_HEADERS, **scraper},
        )

    assert brief.status_code == 401
    assert tools.status_code == 401


# Request ids and logs


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("deploy-42.retry:7", True), ("two words", False), ("x" * 129, False), (None, False)],
)
def test_request_id_echoed_or_made(
    indexed: IndexedRepo, tmp_path: Path, sent: str | None, kept: bool
) -> None:
    headers = {"x-request-id": sent} if sent is not None else {}
    with client_for(indexed, settings_for(indexed, tmp_path)) as client:
        response = client.get("/healthz", headers=headers)

    echoed = response.headers["x-request-id"]
    if kept:
        assert echoed == sent
    else:
        assert len(echoed) == 32
        assert int(echoed, 16) >= 0


@contextmanager
def logs_to_buffer(log_format: str) -> Iterator[io.StringIO]:
    """Configure logging at INFO as `headstart serve -v` does, into a buffer instead of stderr."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(1, log_format)
    buffer = io.StringIO()
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    """Return the JSON lines logged since the last call, and empty the buffer."""
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    buffer.seek(0)
    buffer.truncate()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("route", ["rest", "mcp"])
def test_json_logs_carry_the_request_id(
    indexed: IndexedRepo,
    tmp_path: Path,
    route: str,
) -> None:
    """Every line logged while a request is handled, in worker threads too, names its id."""
    with (
        logs_to_buffer("json") as buffer,
        client_for(indexed, settings_for(indexed, tmp_path)) as client,
    ):
        _lines(buffer)  # start-up lines belong to no request
        headers = {"x-request-id": f"req-{route}-1"}
        if route == "rest":
            response = client.post("/v1/briefs", json={"task": "add retry"}, headers=headers)
        else:
            call = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "get_task_brief", "arguments": {"task": "add retry"}},
            }
            response = client.post("/mcp", json=call, headers={**MCP_HEADERS, **headers})
        lines = _lines(buffer)

    assert response.status_code == 200, response.text
    # The test client's own line (httpx2) is the client's, not the server's.
    lines = [line for line in lines if not line["logger"].startswith("httpx")]
    assert {line["request_id"] for line in lines} == {f"req-{route}-1"}
    loggers = {line["logger"] for line in lines}
    # The ledger is opened in a worker thread; the access line is the middleware's own.
    assert "headstart.server.ledger" in loggers
    assert "headstart.server.access" in loggers
    for line in lines:
        assert set(line) >= {"time", "level", "logger", "message", "request_id"}


def test_unexpected_error_logged_with_request_id(indexed: IndexedRepo, tmp_path: Path) -> None:
    """An exception no handler catches becomes a 500 whose traceback is logged with the id."""
    settings = settings_for(indexed, tmp_path)
    app = build_app(settings, indexed.headstart(settings), repo=str(indexed.path))

    def fail() -> None:
        raise RuntimeError("disk on fire")

    app.add_api_route("/v1/fail", fail)
    with logs_to_buffer("json") as buffer, TestClient(app, base_url=LOOPBACK) as client:
        before = client.get("/metrics").text
        _lines(buffer)
        response = client.get("/v1/fail", headers={"x-request-id": "req-fail-1"})
        lines = _lines(buffer)
        after = client.get("/metrics").text

    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error", "request_id": "req-fail-1"}
    assert response.headers["x-request-id"] == "req-fail-1"
    (failure,) = [line for line in lines if line["level"] == "ERROR"]
    assert failure["request_id"] == "req-fail-1"
    assert "RuntimeError: disk on fire" in failure["exception"]
    labels = {"route": "/v1/fail", "method": "GET", "status": "500"}
    assert sample(after, "headstart_http_requests_total", **labels) == 1
    errors = "headstart_errors_total"
    assert (sample(after, errors, component="http") or 0) - (
        sample(before, errors, component="http") or 0
    ) == 1


def test_text_logs_carry_the_request_id(indexed: IndexedRepo, tmp_path: Path) -> None:
    with logs_to_buffer("text") as buffer:
        with client_for(indexed, settings_for(indexed, tmp_path)) as client:
            client.get("/healthz", headers={"x-request-id": "plain-1"})
        text = buffer.getvalue()

    assert "INFO headstart.server.access [plain-1]: GET /healthz 200" in text


def test_unknown_log_format_named() -> None:
    with pytest.raises(InputError, match="'yaml'.*HEADSTART_LOG_FORMAT"):
        configure_logging(0, "yaml")


# Limits


def test_body_limit(indexed: IndexedRepo, tmp_path: Path) -> None:
    settings = settings_for(indexed, tmp_path, max_body_bytes=2048)
    padding = "x" * 3000

    def chunks() -> Iterator[bytes]:
        body = json.dumps({"task": "add retry", "files": [padding]}).encode()
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    with client_for(indexed, settings) as client:
        before = client.get("/metrics").text
        declared = client.post("/v1/briefs", json={"task": "add retry", "files": [padding]})
        streamed = client.post(
            "/v1/briefs", content=chunks(), headers={"content-type": "application/json"}
        )
        mcp = client.post("/mcp", content=chunks(), headers=MCP_HEADERS)
        otlp = client.post(
            "/v1/logs", content=padding.encode(), headers={"content-type": "application/json"}
        )
        small = client.post("/v1/briefs", json={"task": "add retry"})
        after = client.get("/metrics").text

    for response in (declared, streamed, mcp):
        assert response.status_code == 413
        assert "max_body_bytes" in response.json()["detail"]
    # The OTLP receiver checks the same limit itself and answers with an OTLP Status.
    assert otlp.status_code == 413
    assert otlp.json()["message"] == "request body exceeds 2048 bytes"
    assert small.status_code == 200
    rejected = "headstart_http_requests_rejected_total"
    assert (sample(after, rejected, reason="body_too_large") or 0) - (
        sample(before, rejected, reason="body_too_large") or 0
    ) == 3


class SlowUpload:
    """A push whose body stops halfway, so that it holds its slot until `finish` sends the rest."""

    def __init__(self, url: str, key: str) -> None:
        self.body = json.dumps([pushed_event(key)]).encode()
        host, port = url.removeprefix("http://").split(":")
        self.connection = socket.create_connection((host, int(port)), timeout=60)
        head = (
            f"POST /v1/ledger/events HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(self.body)}\r\n\r\n"
        )
        self.connection.sendall(head.encode() + self.body[:10])

    def finish(self) -> tuple[int, bytes]:
        """Send the rest of the body; return the response's status and body."""
        with self.connection:
            self.connection.sendall(self.body[10:])
            data = b""
            while b"\r\n\r\n" not in data:
                data += self.connection.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next(
                int(line.split(":", 1)[1])
                for line in lines
                if line.lower().startswith("content-length:")
            )
            while len(body) < length:
                body += self.connection.recv(65536)
        return int(lines[0].split()[1]), body


def wait_for_in_flight(url: str, count: int) -> None:
    """Poll /metrics until `count` other requests are in flight (the poll itself is one more)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = httpx.get(f"{url}/metrics").text
        if sample(text, "headstart_http_requests_in_flight") == count + 1:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} requests were never in flight at once")


@pytest.mark.parametrize("queue_timeout", [0.0, 30.0])
def test_concurrency_limit(indexed: IndexedRepo, tmp_path: Path, queue_timeout: float) -> None:
    """With one slot, a second request is refused at once, or waits for the slot to free up."""
    settings = settings_for(
        indexed, tmp_path, max_concurrent_requests=1, queue_timeout=queue_timeout
    )
    app = build_app(settings, indexed.headstart(settings), repo=str(indexed.path))
    queued: dict[str, httpx.Response] = {}

    def push_queued() -> None:
        queued["response"] = httpx.post(
            f"{url}/v1/ledger/events", json=[pushed_event("queued")], timeout=60
        )

    with served(app) as url:
        upload = SlowUpload(url, "slot-holder")
        wait_for_in_flight(url, 1)
        health = httpx.get(f"{url}/healthz")
        if queue_timeout == 0:
            second = httpx.post(f"{url}/v1/ledger/events", json=[pushed_event("refused")])
        else:
            waiting = threading.Thread(target=push_queued)
            waiting.start()
            wait_for_in_flight(url, 2)
        status, body = upload.finish()
        if queue_timeout:
            waiting.join(timeout=60)

    assert health.status_code == 200
    assert status == 200, body
    assert json.loads(body)["ingest"]["inserted"] == 1
    if queue_timeout == 0:
        assert second.status_code == 503
        assert second.headers["retry-after"] == "1"
        assert "max_concurrent_requests" in second.json()["detail"]
    else:
        assert queued["response"].status_code == 200
        assert queued["response"].json()["ingest"]["inserted"] == 1
