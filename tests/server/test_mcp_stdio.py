"""`headstart serve` over stdio, driven by the mcp package's own client and by raw JSON-RPC."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from server.conftest import HEADSTART, IndexedRepo
from server.helpers import check_all_tools

pytestmark = pytest.mark.slow


def test_stdio_tools(indexed: IndexedRepo, tmp_path: Path) -> None:
    parameters = StdioServerParameters(
        command=HEADSTART,
        args=["serve", "--repo", str(indexed.path)],
        env=indexed.env(),
        cwd=str(tmp_path),
    )

    async def run() -> None:
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with (
                stdio_client(parameters, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                initialized = await session.initialize()
                assert initialized.server_info.version == version("headstart")
                await check_all_tools(session, indexed.data_dir)

    anyio.run(run)


def test_stdio_default_repo(indexed: IndexedRepo) -> None:
    """Without --repo, the server's working directory picks the repository."""
    parameters = StdioServerParameters(
        command=HEADSTART, args=["serve"], env=indexed.env(), cwd=str(indexed.path)
    )

    async def run() -> dict:
        async with (
            stdio_client(parameters, errlog=sys.stderr) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.call_tool("get_file_history", {"path": "src/http/pool.py"})
            assert not result.is_error, result.content
            return result.structured_content

    page = anyio.run(run)
    assert page["repo"] == str(indexed.path)
    assert page["total"] == 9


def test_stdout_only_protocol(indexed: IndexedRepo, tmp_path: Path) -> None:
    """Every byte on stdout is a JSON-RPC message, even with debug logging and the model loading."""
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "get_task_brief", "arguments": {"task": "retry with backoff"}},
        },
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {
                "name": "search_history",
                "arguments": {"query": "pool", "repo": "/no/such/repository"},
            },
        },
    ]
    process = subprocess.Popen(
        [HEADSTART, "serve", "-vv", "--repo", str(indexed.path)],
        env=indexed.env(),
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None

    replies: dict[int, dict] = {}
    lines: list[bytes] = []
    try:
        for message in messages:
            process.stdin.write(json.dumps(message).encode() + b"\n")
            process.stdin.flush()
            if "id" not in message:
                continue
            # Read until the reply to this request, keeping every line to check below.
            while message["id"] not in replies:
                line = process.stdout.readline()
                assert line, f"server closed stdout; stderr:\n{process.stderr.read().decode()}"
                lines.append(line)
                reply = json.loads(line)
                if "id" in reply:
                    replies[reply["id"]] = reply
        # communicate() closes stdin, which ends the session, and collects what is left.
        rest, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    lines += rest.splitlines(keepends=True)
    for line in lines:
        assert line.endswith(b"\n")
        assert json.loads(line)["jsonrpc"] == "2.0", line
    assert replies[2]["result"]["isError"] is False
    assert replies[3]["result"]["isError"] is True
    # The logging really ran, and went to stderr.
    assert b"DEBUG" in stderr
    assert process.returncode == 0


def test_serve_unknown_repo(indexed: IndexedRepo, tmp_path: Path) -> None:
    """A wrong --repo stops the server at once with the reason, before any client connects."""
    result = subprocess.run(
        [HEADSTART, "serve", "--repo", str(tmp_path / "missing")],
        env=indexed.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 2
    assert result.stdout == b""
    assert str(tmp_path / "missing") in result.stderr.decode()
