"""The MCP server in process: built without side effects, its tools typed and annotated."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import anyio
from mcp import Client

from headstart.config import Settings
from headstart.server.tools import build_server


def test_build_server_opens_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    build_server(Settings(data_dir=data_dir))

    assert not data_dir.exists()


def test_server_names_its_version(tmp_path: Path) -> None:
    server = build_server(Settings(data_dir=tmp_path / "data"))

    async def run() -> str:
        async with Client(server, mode="legacy") as client:
            return client.server_info.version

    assert anyio.run(run) == version("headstart") != ""


def test_tool_schemas(tmp_path: Path) -> None:
    server = build_server(Settings(data_dir=tmp_path / "data"))

    async def run() -> dict:
        async with Client(server, mode="legacy") as client:
            return {tool.name: tool for tool in (await client.list_tools()).tools}

    tools = anyio.run(run)

    brief = tools["get_task_brief"]
    assert brief.input_schema["required"] == ["task"]
    assert brief.input_schema["properties"]["max_tokens"]["anyOf"][0]["maximum"] == 8000
    assert "likely_files" in brief.output_schema["properties"]
    assert brief.annotations.read_only_hint is True
    assert brief.annotations.open_world_hint is False
    search = tools["search_history"]
    assert search.input_schema["properties"]["limit"]["maximum"] == 50
    assert "next_offset" in search.output_schema["properties"]
    assert tools["finish_task"].input_schema["required"] == ["task_id", "outcome"]
    assert not brief.description.startswith(" ")
    assert "\n        " not in brief.description


def test_tool_error_nothing_indexed(tmp_path: Path) -> None:
    server = build_server(Settings(data_dir=tmp_path / "data"))

    async def run():
        async with Client(server, mode="legacy") as client:
            return await client.call_tool("get_file_history", {"path": "src/a.py"})

    result = anyio.run(run)

    assert result.is_error
    assert "headstart index" in result.content[0].text
