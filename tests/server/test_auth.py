"""The HTTP server's api_token: every route but /healthz needs it, the MCP endpoint included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from headstart.config import Settings
from headstart.server.app import build_app
from headstart.server.auth import offered_token
from server.conftest import IndexedRepo

TOKEN = "s3cret-token"
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}

# The module fixture indexes a repository, which loads the embedding model.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(indexed: IndexedRepo) -> Iterator[TestClient]:
    settings = Settings(data_dir=indexed.data_dir, api_token=TOKEN)
    app = build_app(settings, indexed.headstart(settings), repo=str(indexed.path))
    # A loopback Host header, as the MCP endpoint rejects others when bound to loopback.
    with TestClient(app, base_url="http://127.0.0.1:8787") as test_client:
        yield test_client


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
        {"x-headstart-token": "wrong-token"},
    ],
)
@pytest.mark.parametrize("path", ["/v1/briefs", "/mcp", "/v1/logs", "/v1/ledger/events"])
def test_rejects_without_token(client: TestClient, path: str, headers: dict[str, str]) -> None:
    response = client.post(path, json={}, headers={**MCP_HEADERS, **headers})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "api_token" in response.json()["detail"]


def test_rejects_openapi(client: TestClient) -> None:
    assert client.get("/openapi.json").status_code == 401


def test_healthz_open(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200


def test_mcp_with_token(client: TestClient) -> None:
    response = client.post(
        "/mcp", json=TOOLS_LIST, headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    )

    assert response.status_code == 200, response.text
    names = {tool["name"] for tool in response.json()["result"]["tools"]}
    assert "get_task_brief" in names


def test_brief_with_token(client: TestClient) -> None:
    response = client.post(
        "/v1/briefs",
        json={"task": "add retry to the HTTP client"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["id"].startswith("hsb_")


def test_token_header_accepted(client: TestClient) -> None:
    """Past the check, a bad body is the route's to reject: 400, not 401."""
    response = client.post(
        "/v1/briefs",
        json={"task": "retry", "repo": "/no/such/repository"},
        headers={"x-headstart-token": TOKEN},
    )

    assert response.status_code == 400, response.text


def test_mcp_foreign_host(client: TestClient) -> None:
    """On loopback, a request naming another host is refused even with the token."""
    response = client.post(
        "/mcp",
        json=TOOLS_LIST,
        headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}", "Host": "attacker.example"},
    )

    assert response.status_code in (400, 403, 421)


def test_no_token_setting_is_open(indexed: IndexedRepo) -> None:
    settings = Settings(data_dir=indexed.data_dir, api_token=None)
    app = build_app(settings, indexed.headstart(settings))
    with TestClient(app, base_url="http://127.0.0.1:8787") as open_client:
        response = open_client.post("/mcp", json=TOOLS_LIST, headers=MCP_HEADERS)

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"authorization", b"Bearer abc")], "abc"),
        ([(b"authorization", b"bearer  abc ")], "abc"),
        ([(b"x-headstart-token", b"abc")], "abc"),
        ([(b"authorization", b"Basic abc")], None),
        ([], None),
    ],
)
def test_offered_token(headers: list[tuple[bytes, bytes]], expected: str | None) -> None:
    assert offered_token(headers) == expected
