"""Two `headstart serve --http` replicas on one store and one PostgreSQL ledger, as behind a load
balancer without sticky sessions: any replica answers any MCP call, concurrent briefs are whole,
and telemetry sent to both arrives in the ledger exactly once.
"""

from __future__ import annotations

import itertools
import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import func, select

from headstart.context.models import Brief
from headstart.context.render import render_json
from headstart.context.tokens import count_tokens
from headstart.ledger.db import open_ledger
from headstart.ledger.models import BriefDelivery, TaskRow, UsageRecord
from ledger.conftest import postgres_schema
from server import conftest as server_fixtures
from server.conftest import HEADSTART, IndexedRepo, free_port, stop

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

# The server tests' module fixture: a small repository with a busy history, indexed once.
indexed = server_fixtures.indexed

TOKEN = "replica-test-token"
AUTHORIZATION = {"Authorization": f"Bearer {TOKEN}"}
TASK = "add retry with backoff to the HTTP client"


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    replicas: list[Replica]
    ledger_url: str

    @property
    def urls(self) -> list[str]:
        return [replica.url for replica in self.replicas]


@pytest.fixture(scope="module")
def ledger_url() -> Iterator[str]:
    """A PostgreSQL schema of this module's own, dropped afterwards."""
    with postgres_schema("hs_replicas") as url:
        yield url


def start_replicas(
    indexed: IndexedRepo, ledger_url: str, log_dir: Path, count: int
) -> list[Replica]:
    """Start `count` servers on one store and one ledger at once; wait until every one is ready."""
    replicas = []
    for _ in range(count):
        port = free_port()
        log = log_dir / f"replica-{port}.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [
                    HEADSTART,
                    "serve",
                    "--http",
                    "--port",
                    str(port),
                    "--repo",
                    str(indexed.path),
                    "-v",
                ],
                env=indexed.env(
                    HEADSTART_LEDGER_URL=ledger_url,
                    HEADSTART_API_TOKEN=TOKEN,
                    HEADSTART_LOG_FORMAT="json",
                ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        replicas.append(Replica(process, f"http://127.0.0.1:{port}", log))

    deadline = time.monotonic() + 120
    waiting = list(replicas)
    while waiting:
        replica = waiting[0]
        if replica.process.poll() is not None:
            for other in replicas:
                stop(other.process)
            raise RuntimeError(
                f"a replica exited with {replica.process.returncode}:\n{replica.stderr()}"
            )
        try:
            # /readyz, not /healthz: a replica is ready once it reaches the store and the ledger.
            if httpx.get(f"{replica.url}/readyz", timeout=5).status_code == 200:
                waiting.pop(0)
                continue
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            for other in replicas:
                stop(other.process)
            raise RuntimeError(f"a replica was not ready within 120 s:\n{replica.stderr()}")
        time.sleep(0.1)
    return replicas


@pytest.fixture(scope="module")
def cluster(
    indexed: IndexedRepo, ledger_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    replicas = start_replicas(indexed, ledger_url, tmp_path_factory.mktemp("replicas"), 2)
    try:
        yield Cluster(replicas, ledger_url)
    finally:
        for replica in replicas:
            if replica.process.poll() is None:
                stop(replica.process)


@dataclass
class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer in the client: each request goes to the next replica, with no affinity."""

    urls: list[str]
    sent: list[tuple[int, str, int, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.turn = itertools.count()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        index = next(self.turn) % len(self.urls)
        target = httpx2.URL(self.urls[index])
        request.url = request.url.copy_with(host=target.host, port=target.port)
        response = await self.inner.handle_async_request(request)
        has_session = "mcp-session-id" in response.headers
        self.sent.append((index, request.method, response.status_code, has_session))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def mcp_client(balancer: RoundRobin) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=balancer, headers=AUTHORIZATION, timeout=120)


def check_brief_result(result: Any, max_tokens: int) -> Brief:
    """A complete brief: no error, a valid model, the whole Markdown, within its budget."""
    assert not result.is_error, result.content
    brief = Brief.model_validate(result.structured_content)
    markdown = result.content[0].text
    assert markdown.startswith("# Headstart brief")
    assert brief.id in markdown
    assert brief.tokens == count_tokens(markdown) <= max_tokens
    assert brief.likely_files and brief.likely_files[0].path == "src/http/client.py"
    return brief


def test_mcp_calls_alternate_replicas(cluster: Cluster) -> None:
    """One MCP session whose every request goes to the other replica: a task started on one
    replica is briefed and finished on the other."""
    balancer = RoundRobin(cluster.urls)

    async def run() -> tuple[str, Brief]:
        async with (
            mcp_client(balancer) as http_client,
            streamable_http_client(f"{cluster.urls[0]}/mcp", http_client=http_client) as streams,
            ClientSession(*streams[:2]) as session,
        ):
            await session.initialize()
            tools = await session.list_tools()
            assert "get_task_brief" in {tool.name for tool in tools.tools}
            started = await session.call_tool("start_task", {"title": "Cap the retries"})
            assert not started.is_error, started.content
            task_id = started.structured_content["task_id"]
            result = await session.call_tool(
                "get_task_brief", {"task": TASK, "max_tokens": 800, "task_id": task_id}
            )
            brief = check_brief_result(result, 800)
            finished = await session.call_tool(
                "finish_task", {"task_id": task_id, "outcome": "completed"}
            )
            assert not finished.is_error, finished.content
            return task_id, brief

    task_id, brief = anyio.run(run)

    assert {index for index, *_ in balancer.sent} == {0, 1}
    assert len(balancer.sent) >= 5
    for index, method, status, has_session in balancer.sent:
        assert 200 <= status < 300, (index, method, status)
        # A stateless server hands out no session, so nothing ties the client to a replica.
        assert not has_session

    ledger = open_ledger(cluster.ledger_url)
    try:
        with ledger.session() as session:
            task = session.get(TaskRow, task_id)
            delivery = session.get(BriefDelivery, brief.id)
            assert task is not None and task.outcome == "completed"
            assert delivery is not None and delivery.task_id == task_id
    finally:
        ledger.close()


def _kv(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def otlp_logs(request_ids: list[str]) -> bytes:
    """An OTLP/JSON logs export of Claude Code api_request events, one per request id."""
    records = [
        {
            "timeUnixNano": "1796032500000000000",
            "body": {"stringValue": "claude_code.api_request"},
            "attributes": [
                _kv("event.name", "api_request"),
                _kv("event.timestamp", "2026-11-30T09:15:00.250Z"),
                _kv("session.id", "sess-replicas"),
                _kv("user.email", "ada@example.com"),
                _kv("model", "claude-sonnet-4-5"),
                _kv("input_tokens", "3"),
                _kv("output_tokens", "50"),
                _kv("request_id", request_id),
            ],
        }
        for request_id in request_ids
    ]
    document = {
        "resourceLogs": [
            {
                "resource": {"attributes": [_kv("service.name", "claude-code")]},
                "scopeLogs": [
                    {"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}
                ],
            }
        ]
    }
    return json.dumps(document).encode()


def pushed_events(request_ids: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "source": "codex_log",
            "dedup_key": f"codex:push:{request_id}",
            "tool": "codex",
            "timestamp": "2026-11-30T10:00:00Z",
            "model": "gpt-5-codex",
            "request_id": request_id,
            "input_tokens": 100,
            "output_tokens": 10,
        }
        for request_id in request_ids
    ]


def test_concurrent_briefs_and_ingest_at_both_replicas(cluster: Cluster) -> None:
    """MCP briefs, REST briefs, OTLP exports and ledger pushes at both replicas at once.

    Every OTLP export and every push goes to both replicas, as an exporter that retries through
    the load balancer would send it twice: each record must still be stored exactly once.
    """
    otlp_batches = [[f"req_otlp_{batch}_{n}" for n in range(5)] for batch in range(6)]
    push_batches = [[f"req_push_{batch}_{n}" for n in range(5)] for batch in range(4)]
    mcp_briefs: list[Brief] = []
    rest_briefs: list[Brief] = []
    ingest_answers: list[tuple[str, int, dict[str, Any]]] = []
    balancer = RoundRobin(cluster.urls)

    async def mcp_brief(http_client: httpx2.AsyncClient, number: int) -> None:
        async with (
            streamable_http_client(f"{cluster.urls[0]}/mcp", http_client=http_client) as streams,
            ClientSession(*streams[:2]) as session,
        ):
            await session.initialize()
            result = await session.call_tool(
                "get_task_brief", {"task": f"{TASK}, variant {number}", "max_tokens": 600}
            )
            mcp_briefs.append(check_brief_result(result, 600))

    async def rest_brief(client: httpx.AsyncClient, url: str, number: int) -> None:
        response = await client.post(
            f"{url}/v1/briefs", json={"task": f"{TASK}, by REST {number}", "max_tokens": 1500}
        )
        assert response.status_code == 200, response.text
        rest_briefs.append(Brief.model_validate(response.json()))

    async def export(client: httpx.AsyncClient, url: str, ids: list[str]) -> None:
        response = await client.post(
            f"{url}/v1/logs", content=otlp_logs(ids), headers={"content-type": "application/json"}
        )
        ingest_answers.append(("otlp", response.status_code, response.json()))

    async def push(client: httpx.AsyncClient, url: str, ids: list[str]) -> None:
        response = await client.post(f"{url}/v1/ledger/events", json=pushed_events(ids))
        ingest_answers.append(("push", response.status_code, response.json()))

    async def run() -> None:
        # One HTTP client for every MCP session, as closing a client closes its transport.
        async with (
            mcp_client(balancer) as mcp_http,
            httpx.AsyncClient(headers=AUTHORIZATION, timeout=120) as client,
            anyio.create_task_group() as group,
        ):
            for number in range(6):
                group.start_soon(mcp_brief, mcp_http, number)
            for number in range(4):
                group.start_soon(rest_brief, client, cluster.urls[number % 2], number)
            for url in cluster.urls:
                for ids in otlp_batches:
                    group.start_soon(export, client, url, ids)
                for ids in push_batches:
                    group.start_soon(push, client, url, ids)

    anyio.run(run)

    assert len(mcp_briefs) == 6
    assert len(rest_briefs) == 4
    for brief in rest_briefs:
        assert brief.tokens == count_tokens(render_json(brief)) <= 1500
        assert brief.likely_files[0].path == "src/http/client.py"
    assert {index for index, *_ in balancer.sent} == {0, 1}

    assert len(ingest_answers) == 2 * (len(otlp_batches) + len(push_batches))
    for kind, status, body in ingest_answers:
        assert status == 200, (kind, body)
        if kind == "otlp":
            assert "partialSuccess" not in body, body
        else:
            assert body["accepted"] == 5, body
            assert body["rejected"] == 0, body

    expected_ids = {rid for ids in otlp_batches + push_batches for rid in ids}
    briefs = {brief.id for brief in mcp_briefs + rest_briefs}
    ledger = open_ledger(cluster.ledger_url)
    try:
        with ledger.session() as session:
            stored = session.scalars(
                select(UsageRecord.request_id).where(UsageRecord.request_id.in_(expected_ids))
            ).all()
            delivered = session.scalars(
                select(BriefDelivery.id).where(BriefDelivery.id.in_(briefs))
            ).all()
            total = session.scalar(select(func.count()).select_from(UsageRecord))
    finally:
        ledger.close()

    # Exactly once: every record is there, none twice, and nothing else arrived.
    assert sorted(stored) == sorted(expected_ids)
    assert total == len(expected_ids)
    assert len(briefs) == 10
    assert sorted(delivered) == sorted(briefs)


def test_metrics_count_each_replica(cluster: Cluster) -> None:
    """Each replica counts the requests it served; the ledger's lag is the same from both."""
    pages = [httpx.get(f"{url}/metrics", headers=AUTHORIZATION).text for url in cluster.urls]

    for page in pages:
        assert 'headstart_http_requests_total{method="POST",route="/mcp",status="200"}' in page
    lags = [
        float(line.split()[-1])
        for page in pages
        for line in page.splitlines()
        if line.startswith("headstart_ingest_lag_seconds ")
    ]
    assert len(lags) == 2
    assert abs(lags[0] - lags[1]) < 60


def test_logs_are_json_with_request_ids(cluster: Cluster) -> None:
    """The replicas ran with HEADSTART_LOG_FORMAT=json: every log line is a JSON object."""
    access = []
    for replica in cluster.replicas:
        for line in replica.stderr().splitlines():
            entry = json.loads(line)
            if entry["logger"] == "headstart.server.access":
                access.append(entry)

    assert access
    assert all(entry["request_id"] for entry in access)


def _metrics(url: str) -> str:
    """Return a replica's metrics text, or "" when a busy machine resets the connection."""
    try:
        return httpx.get(f"{url}/metrics", headers=AUTHORIZATION).text
    except httpx.TransportError:
        return ""


def test_graceful_shutdown_finishes_in_flight_request(cluster: Cluster) -> None:
    """SIGTERM stops a replica taking connections, but a request already arriving completes.

    It stops the second replica, so it runs last in this module.
    """
    replica = cluster.replicas[1]
    body = json.dumps(pushed_events(["req_in_flight"])).encode()
    host, port = replica.url.removeprefix("http://").split(":")

    with socket.create_connection((host, int(port)), timeout=60) as connection:
        head = (
            f"POST /v1/ledger/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        connection.sendall(head.encode() + body[:20])
        # The request is in flight once the replica counts it.
        deadline = time.monotonic() + 30
        while "headstart_http_requests_in_flight 2.0" not in _metrics(replica.url):
            assert time.monotonic() < deadline, "the request never reached the replica"
            time.sleep(0.02)

        replica.process.send_signal(signal.SIGTERM)
        # Shutdown has begun once the replica no longer accepts connections.
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{replica.url}/healthz", timeout=1)
            except httpx.ConnectError:
                break
            assert time.monotonic() < deadline, "the replica kept accepting connections"
            time.sleep(0.02)

        connection.sendall(body[20:])
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk

    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["accepted"] == 1
    # uvicorn re-raises the signal once it has shut down, so the process ends as SIGTERM ends it.
    assert replica.process.wait(timeout=60) == -signal.SIGTERM
    log = replica.stderr()
    assert "Finished server process" in log
    assert "timeout graceful shutdown exceeded" not in log

    ledger = open_ledger(cluster.ledger_url)
    try:
        with ledger.session() as session:
            found = session.scalars(
                select(UsageRecord.request_id).where(UsageRecord.request_id == "req_in_flight")
            ).all()
    finally:
        ledger.close()
    assert found == ["req_in_flight"]
