"""docs/mcp.md: its configuration snippets parse, and the options it lists exist."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import anyio
import pytest
from mcp import Client
from typer.testing import CliRunner

from headstart.cli.app import _register, app
from headstart.config import Settings
from headstart.server.tools import build_server

DOC = Path(__file__).parents[2] / "docs" / "mcp.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def blocks(language: str) -> list[str]:
    return [body for found, body in BLOCK.findall(DOC.read_text()) if found == language]


@pytest.mark.parametrize("body", blocks("json"))
def test_json_snippets_parse(body: str) -> None:
    config = json.loads(body)

    servers = config.get("mcpServers") or config["servers"]
    assert "headstart" in servers


@pytest.mark.parametrize("body", blocks("toml"))
def test_toml_snippets_parse(body: str) -> None:
    assert "headstart" in tomllib.loads(body)["mcp_servers"]


def test_documented_options_exist() -> None:
    _register()
    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    documented = set(
        re.findall(
            r"`(--?[a-z]+)", DOC.read_text().split("## Running the server")[1].split("## ")[0]
        )
    )

    assert result.exit_code == 0, result.output
    assert documented >= {"--http", "--host", "--port", "--repo", "--db", "--model", "-v"}
    for option in documented - {"-vv"}:
        assert option in result.output, option


def test_tool_table_lists_every_tool(tmp_path: Path) -> None:
    server = build_server(Settings(data_dir=tmp_path / "data"))

    async def run() -> set[str]:
        async with Client(server, mode="legacy") as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    table = DOC.read_text().split("## Tools")[1].split("\n\n")[1]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE))

    assert documented == anyio.run(run)
