"""Load on one and on two `headstart serve --http` replicas: MCP briefs, and OTLP ingest.

    python benchmarks/load.py --repo PATH [--work DIR] [--ledger-url URL] [--clients 50]
                              [--briefs 400] [--seconds 90] [--events 20000] [--batch 100]

For one replica and then for two on the same store and ledger, the script:

1. starts the replicas on loopback ports and waits until /readyz answers 200;
2. warms each replica with one brief, which loads the embedding model;
3. runs `--clients` MCP clients at once (the `mcp` package's streamable HTTP client), each
   calling `get_task_brief` until `--briefs` calls are done or `--seconds` have passed. Every
   HTTP request goes to the next replica in turn, as a load balancer without sticky sessions
   sends it;
4. posts `--events` Claude Code usage events as OTLP/HTTP protobuf exports of `--batch` events,
   8 exports at a time, spread over the replicas, and checks that the ledger holds each once.

The repository must be indexed into `--work/data` first, or the script indexes it. Everything
runs on 127.0.0.1. Prints one JSON object with every figure and writes it to WORK/load.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import psutil
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from sqlalchemy import func, select

from headstart.ledger.db import open_ledger
from headstart.ledger.models import UsageRecord

HEADSTART = str(Path(sys.executable).with_name("headstart"))
TASKS = [
    "add retry with backoff to the HTTP client",
    "fix the race when two writers index the same repository",
    "speed up the brief for large repositories",
    "make the ledger ingest idempotent for pushed events",
    "document the configuration file and its settings",
    "handle a renamed file in the history walk",
    "add a timeout to the tracker API calls",
    "report spend by team and model",
]
EXPORTS_AT_ONCE = 8


def machine() -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class Replicas:
    processes: list[subprocess.Popen[bytes]]
    urls: list[str]

    def stop(self) -> list[int]:
        """Stop every replica; return the resident memory each had, in MiB."""
        rss = [psutil.Process(p.pid).memory_info().rss // 2**20 for p in self.processes]
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=60)
        return rss


def start_replicas(count: int, repo: Path, env: dict[str, str], work: Path) -> Replicas:
    processes, urls = [], []
    for index in range(count):
        port = free_port()
        log = (work / f"replica-{count}-{index}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [HEADSTART, "serve", "--http", "--port", str(port), "--repo", str(repo)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")

    deadline = time.monotonic() + 180
    for process, url in zip(processes, urls, strict=True):
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"replica at {url} exited with {process.returncode}")
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"replica at {url} was not ready within 180 s")
            time.sleep(0.2)
    return Replicas(processes, urls)


@dataclass
class RoundRobin(httpx2.AsyncBaseTransport):
    """Send each request to the next replica, as a load balancer without affinity does."""

    urls: list[str]
    served: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport(limits=httpx2.Limits(max_connections=200))
        self.turn = itertools.count()
        self.served = [0] * len(self.urls)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        index = next(self.turn) % len(self.urls)
        target = httpx2.URL(self.urls[index])
        request.url = request.url.copy_with(host=target.host, port=target.port)
        self.served[index] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _warm(urls: list[str], repo: Path) -> None:
    async with httpx.AsyncClient(timeout=300) as client:
        for url in urls:
            response = await client.post(
                f"{url}/v1/briefs", json={"task": "warm up", "repo": str(repo)}
            )
            response.raise_for_status()


async def mcp_load(urls: list[str], clients: int, briefs: int, seconds: float) -> dict[str, Any]:
    """Run `clients` MCP clients until `briefs` calls are done or `seconds` have passed."""
    latencies: list[float] = []
    errors: list[str] = []
    issued = itertools.count()
    balancer = RoundRobin(urls)
    started = time.perf_counter()
    deadline = started + seconds

    async def client(http_client: httpx2.AsyncClient, number: int) -> None:
        try:
            await session_calls(http_client, number)
        except Exception as exc:  # noqa: BLE001 - a session that breaks is counted, not fatal
            errors.append(f"session {number}: {type(exc).__name__}: {exc}")

    async def session_calls(http_client: httpx2.AsyncClient, number: int) -> None:
        async with (
            streamable_http_client(f"{urls[0]}/mcp", http_client=http_client) as streams,
            ClientSession(*streams[:2]) as session,
        ):
            await session.initialize()
            while time.perf_counter() < deadline:
                call = next(issued)
                if call >= briefs:
                    return
                task = f"{TASKS[call % len(TASKS)]} (client {number}, call {call})"
                begun = time.perf_counter()
                result = await session.call_tool("get_task_brief", {"task": task})
                if result.is_error or not result.content[0].text.startswith("# Headstart brief"):
                    errors.append(str(result.content)[:200])
                    continue
                latencies.append(time.perf_counter() - begun)

    # One HTTP client for every MCP session, as closing a client closes its transport.
    async with (
        httpx2.AsyncClient(transport=balancer, timeout=300) as http_client,
        anyio.create_task_group() as group,
    ):
        for number in range(clients):
            group.start_soon(client, http_client, number)
    wall = time.perf_counter() - started

    return {
        "clients": clients,
        "briefs_completed": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "wall_seconds": round(wall, 2),
        "briefs_per_second": round(len(latencies) / wall, 2),
        "latency_ms": {
            "p50": round(statistics.median(latencies) * 1000) if latencies else None,
            "p95": round(percentile(latencies, 0.95) * 1000) if latencies else None,
            "max": round(max(latencies) * 1000) if latencies else None,
        },
        "http_requests_per_replica": balancer.served,
    }


def _string(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def otlp_export(prefix: str, start: int, count: int) -> bytes:
    """A protobuf logs export of `count` Claude Code api_request events."""
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.append(_string("service.name", "claude-code"))
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "com.anthropic.claude_code.events"
    for number in range(start, start + count):
        record = scope_logs.log_records.add()
        record.time_unix_nano = time.time_ns()
        record.body.string_value = "claude_code.api_request"
        record.attributes.extend(
            [
                _string("event.name", "api_request"),
                _string("session.id", f"{prefix}-session-{number // 50}"),
                _string("user.email", f"dev{number % 40}@example.com"),
                _string("model", "claude-sonnet-4-5"),
                _string("input_tokens", "1200"),
                _string("output_tokens", "300"),
                _string("cache_read_tokens", "20000"),
                _string("request_id", f"{prefix}-{number}"),
            ]
        )
    return request.SerializeToString()


async def ingest_load(urls: list[str], prefix: str, events: int, batch: int) -> dict[str, Any]:
    """Post `events` events in exports of `batch`, EXPORTS_AT_ONCE at a time, over the replicas."""
    bodies = [
        otlp_export(prefix, start, min(batch, events - start)) for start in range(0, events, batch)
    ]
    failures: list[str] = []
    queue = iter(enumerate(bodies))
    started = time.perf_counter()

    async def sender(client: httpx.AsyncClient) -> None:
        for index, body in queue:
            response = await client.post(
                f"{urls[index % len(urls)]}/v1/logs",
                content=body,
                headers={"content-type": "application/x-protobuf"},
            )
            if response.status_code != 200:
                failures.append(f"{response.status_code}: {response.text[:200]}")

    async with httpx.AsyncClient(timeout=300) as client, anyio.create_task_group() as group:
        for _ in range(EXPORTS_AT_ONCE):
            group.start_soon(sender, client)
    wall = time.perf_counter() - started
    return {
        "events": events,
        "batch": batch,
        "exports": len(bodies),
        "failed_exports": len(failures),
        "first_failures": failures[:3],
        "wall_seconds": round(wall, 2),
        "events_per_second": round(events / wall),
    }


def cpu_snapshot(replicas: Replicas) -> dict[str, Any]:
    """CPU seconds used so far by each replica, by this load generator, and by the whole machine."""
    machine_times = psutil.cpu_times()
    return {
        "replicas": [sum(psutil.Process(p.pid).cpu_times()[:2]) for p in replicas.processes],
        "load_generator": sum(psutil.Process().cpu_times()[:2]),
        "machine_busy": sum(machine_times) - machine_times.idle - machine_times.iowait,
    }


def cpu_used(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        "replicas": [round(b - a, 1) for a, b in zip(before["replicas"], after["replicas"])],
        "load_generator": round(after["load_generator"] - before["load_generator"], 1),
        "machine_busy": round(after["machine_busy"] - before["machine_busy"], 1),
    }


def stored_count(ledger_url: str, prefix: str) -> int:
    ledger = open_ledger(ledger_url)
    try:
        with ledger.session() as session:
            query = select(func.count()).where(UsageRecord.request_id.like(f"{prefix}-%"))
            return session.scalar(query) or 0
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, required=True, help="Repository to brief on.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/headstart-load"))
    parser.add_argument("--ledger-url", help="Ledger URL [default: SQLite in WORK].")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--briefs", type=int, default=400, help="Brief calls per measurement.")
    parser.add_argument("--seconds", type=float, default=90, help="Time limit per measurement.")
    parser.add_argument("--events", type=int, default=20000, help="OTLP events per measurement.")
    parser.add_argument("--batch", type=int, default=100, help="Events per OTLP export.")
    parser.add_argument("--replicas", default="1,2", help="Replica counts to measure, in order.")
    args = parser.parse_args()

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    repo = args.repo.resolve()
    ledger_url = args.ledger_url or f"sqlite:///{work / 'ledger.sqlite3'}"
    env = {
        **os.environ,
        "HEADSTART_CONFIG": os.devnull,
        "HEADSTART_DATA_DIR": str(work / "data"),
        "HEADSTART_LEDGER_URL": ledger_url,
    }
    subprocess.run([HEADSTART, "index", str(repo)], env=env, check=True, capture_output=True)

    results: dict[str, Any] = {"machine": machine(), "repo": str(repo), "command": sys.argv}
    for count in (int(part) for part in args.replicas.split(",")):
        replicas = start_replicas(count, repo, env, work)
        try:
            anyio.run(_warm, replicas.urls, repo)
            before = cpu_snapshot(replicas)
            briefs = anyio.run(mcp_load, replicas.urls, args.clients, args.briefs, args.seconds)
            briefs["cpu_seconds"] = cpu_used(before, cpu_snapshot(replicas))
            prefix = f"load{count}-{time.time_ns()}"
            ingest = anyio.run(ingest_load, replicas.urls, prefix, args.events, args.batch)
            ingest["stored_once"] = stored_count(ledger_url, prefix) == args.events
        finally:
            rss = replicas.stop()
        results[f"replicas_{count}"] = {
            "briefs": briefs,
            "ingest": ingest,
            "replica_rss_mb": rss,
            "load_average_after": os.getloadavg(),
        }
        print(json.dumps({f"replicas_{count}": results[f"replicas_{count}"]}), file=sys.stderr)

    output = json.dumps(results, indent=2)
    (work / "load.json").write_text(output)
    print(output)


if __name__ == "__main__":
    main()
