"""The report routes and MCP report tools over the scenario ledger (tests/ledger/reports)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from tests.ledger.reports.scenario import sqlite_scenario

from headstart.config import Settings
from headstart.server.access import token_digest
from headstart.server.app import build_app
from headstart.server.tools import build_server

ADMIN = "admin-token"
WEB = "web-team-token"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("scenario")
    url, teams = sqlite_scenario(root)
    teams.write_text(teams.read_text() + f'token_sha256 = "{token_digest(WEB)}"\n')
    return Settings(data_dir=root / "data", ledger_url=url, api_token=ADMIN, teams_file=teams)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(build_app(settings)) as test_client:
        yield test_client


def _get(client: TestClient, path: str, token: str, **params: str):
    return client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def test_efficiency_route_for_admin(client: TestClient) -> None:
    response = _get(client, "/v1/reports/efficiency", ADMIN, start="2024-03-01T00:00:00Z")

    assert response.status_code == 200, response.text
    body = response.json()
    assert {split["key"] for split in body["teams"]} == {"platform", "web"}
    assert body["overall"]["by_class"]["inefficient"] == "41"


def test_team_token_sees_only_its_team(client: TestClient) -> None:
    own = _get(client, "/v1/reports/spend", WEB, by="engineer", granularity="month")
    other = _get(client, "/v1/reports/spend", WEB, team="platform")
    none = client.get("/v1/reports/spend")

    assert own.status_code == 200, own.text
    assert [series["key"] for series in own.json()["series"]] == ["bob@example.com"]
    assert own.json()["query"]["team"] == "web"
    assert other.status_code == 403
    assert none.status_code == 401


def test_compare_and_bad_requests(client: TestClient) -> None:
    compare = _get(client, "/v1/reports/compare", ADMIN, brief="true")
    missing = _get(client, "/v1/reports/compare", ADMIN)
    bad_class = _get(client, "/v1/reports/sessions", ADMIN, **{"class": "great"})

    assert compare.status_code == 200, compare.text
    assert len(compare.json()["warnings"]) == 2
    assert missing.status_code == 400
    assert bad_class.status_code == 400
    assert "invalid class 'great'" in bad_class.json()["detail"]


def test_mcp_verdict_tool(settings: Settings, tmp_path: Path) -> None:
    server = build_server(settings)

    async def run():
        async with Client(server, mode="legacy") as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            result = await client.call_tool(
                "report_verdicts", {"start": "2024-03-01T00:00:00Z", "end": "2024-04-16T00:00:00Z"}
            )
            return tools, result

    tools, result = anyio.run(run)

    assert tools["report_verdicts"].annotations.read_only_hint is True
    assert {"report_spend", "report_budgets", "report_compare", "report_sessions"} <= set(tools)
    assert not result.is_error
    verdicts = {item["tool"]: item["verdict"] for item in result.structured_content["tools"]}
    assert verdicts == {"claude_code": "keep", "codex": "cut", "cursor": "scope"}
