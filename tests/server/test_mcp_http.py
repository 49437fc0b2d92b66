"""`headstart serve --http`: MCP over streamable HTTP at /mcp, with the mcp package's own clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from server.conftest import IndexedRepo, RunningServer, start_http_server, stop
from server.helpers import check_all_tools

pytestmark = pytest.mark.slow

TOKEN = "test-token-for-http"
AUTHORIZATION = {"Authorization": f"Bearer {TOKEN}"}

# Allowed growth of the server's resident memory over two blocks of 25 sessions (75 tool calls
# each) after a warm-up block. Measured in this test: under 1 MiB on a total of about 860 MiB,
# so the limit catches a per-request leak of a few hundred KiB and ignores allocator noise.
MEMORY_GROWTH_LIMIT_BYTES = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def served(
    indexed: IndexedRepo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """One server per module, with an api_token so every MCP request must authenticate."""
    server = start_http_server(
        indexed,
        tmp_path_factory.mktemp("logs"),
        "--repo",
        str(indexed.path),
        HEADSTART_API_TOKEN=TOKEN,
    )
    try:
        yield server
    finally:
        stop(server.process)


def test_http_tools(served: RunningServer, indexed: IndexedRepo) -> None:
    async def run() -> None:
        async with (
            httpx2.AsyncClient(headers=AUTHORIZATION, timeout=60) as http_client,
            streamable_http_client(f"{served.url}/mcp", http_client=http_client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await check_all_tools(session, indexed.data_dir)

    anyio.run(run)


def test_http_modern_client(served: RunningServer) -> None:
    """The high-level Client negotiates on its own and reaches the same tools."""

    async def run() -> list[str]:
        async with httpx2.AsyncClient(headers=AUTHORIZATION, timeout=60) as http_client:
            transport = streamable_http_client(f"{served.url}/mcp", http_client=http_client)
            async with Client(transport) as client:
                result = await client.call_tool(
                    "get_file_history", {"path": "src/http/pool.py", "limit": 2}
                )
                assert not result.is_error, result.content
                return [item["key"] for item in result.structured_content["items"]]

    assert len(anyio.run(run)) == 2


def test_http_mcp_needs_token(served: RunningServer) -> None:
    response = httpx.post(
        f"{served.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_http_healthz_open(served: RunningServer) -> None:
    assert httpx.get(f"{served.url}/healthz").json() == {"status": "ok"}


def test_http_concurrent_calls(served: RunningServer) -> None:
    """Briefs and searches at the same time share one store and one history cache safely."""
    calls = [
        ("get_task_brief", {"task": f"add retry with backoff, variant {number}"})
        for number in range(4)
    ] + [("search_history", {"query": f"retry step {number}", "limit": 3}) for number in range(4)]
    results: list = []

    async def call(http_client: httpx2.AsyncClient, name: str, arguments: dict) -> None:
        async with (
            streamable_http_client(f"{served.url}/mcp", http_client=http_client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            results.append((name, await session.call_tool(name, arguments)))

    async def run() -> None:
        async with (
            httpx2.AsyncClient(headers=AUTHORIZATION, timeout=120) as http_client,
            anyio.create_task_group() as group,
        ):
            for name, arguments in calls:
                group.start_soon(call, http_client, name, arguments)

    anyio.run(run)

    assert len(results) == len(calls)
    for name, result in results:
        assert not result.is_error, (name, result.content)
    brief_ids = {
        result.structured_content["id"] for name, result in results if name == "get_task_brief"
    }
    assert len(brief_ids) == 4


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def test_http_memory_bounded(served: RunningServer) -> None:
    """Many requests, each on a fresh connection, leave the server's memory where it was."""
    calls = [
        ("get_task_brief", {"task": "add retry with backoff to the HTTP client"}),
        ("search_history", {"query": "retry loop", "limit": 5}),
        ("get_file_history", {"path": "src/http/client.py", "limit": 5, "offset": 3}),
    ]

    async def block(rounds: int) -> None:
        async with httpx2.AsyncClient(headers=AUTHORIZATION, timeout=60) as http_client:
            for _ in range(rounds):
                async with (
                    streamable_http_client(f"{served.url}/mcp", http_client=http_client) as (
                        read,
                        write,
                    ),
                    ClientSession(read, write) as session,
                ):
                    await session.initialize()
                    for name, arguments in calls:
                        result = await session.call_tool(name, arguments)
                        assert not result.is_error, result.content

    # The first block loads the model and fills caches; growth after it would be a leak.
    anyio.run(block, 25)
    before = resident_bytes(served.process.pid)
    anyio.run(block, 25)
    middle = resident_bytes(served.process.pid)
    anyio.run(block, 25)
    after = resident_bytes(served.process.pid)

    print(f"resident memory: {before / 2**20:.1f} / {middle / 2**20:.1f} / {after / 2**20:.1f} MiB")
    assert after - before < MEMORY_GROWTH_LIMIT_BYTES
