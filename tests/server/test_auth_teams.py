"""Team tokens next to the admin api_token: where each opens the server, and how they are configured."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from headstart.config import Settings
from headstart.ledger.errors import LedgerInputError
from headstart.ledger.teams import load_team_tokens
from headstart.server.access import ADMIN, Access, TokenPolicy, token_digest
from headstart.server.app import build_app

ADMIN_TOKEN = "admin-secret"
TEAM_TOKEN = "platform-secret"
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def teams_file(path: Path, body: str | None = None) -> Path:
    digest = hashlib.sha256(TEAM_TOKEN.encode()).hexdigest()
    path.write_text(body or f'[teams.platform]\ntoken_sha256 = ["{digest}"]\n')
    return path


def client_for(tmp_path: Path, *, api_token: str | None, teams: bool = True) -> TestClient:
    settings = Settings(
        data_dir=tmp_path / "data",
        api_token=api_token,
        teams_file=teams_file(tmp_path / "teams.toml") if teams else None,
    )
    # No `with`: these checks need no lifespan, so no MCP session manager is started.
    return TestClient(build_app(settings), base_url="http://127.0.0.1:8787")


def test_policy_resolves_tokens(tmp_path: Path) -> None:
    policy = TokenPolicy(
        admin_token=ADMIN_TOKEN, team_digests={token_digest(TEAM_TOKEN): "platform"}
    )

    assert policy.resolve(ADMIN_TOKEN) is ADMIN
    assert policy.resolve(TEAM_TOKEN) == Access(team="platform")
    assert policy.resolve("other") is None
    assert policy.resolve("") is None
    assert policy.resolve(None) is None


def test_team_filter() -> None:
    team = Access(team="platform")

    assert team.team_filter(None) == "platform"
    assert team.team_filter("platform") == "platform"
    assert ADMIN.team_filter("payments") == "payments"
    assert ADMIN.team_filter(None) is None
    with pytest.raises(HTTPException) as raised:
        team.team_filter("payments")
    assert raised.value.status_code == 403


def test_load_team_tokens(tmp_path: Path) -> None:
    path = teams_file(
        tmp_path / "teams.toml",
        '[teams.a]\ntoken_sha256 = "' + "A" * 64 + '"\n'
        "[teams.b]\ntoken_sha256 = [" + f'"{"b" * 64}", "{"c" * 64}"' + "]\n"
        '[teams.c]\nmembers = ["x"]\n',
    )

    assert load_team_tokens(path) == {"a" * 64: "a", "b" * 64: "b", "c" * 64: "b"}
    assert load_team_tokens(None) == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[teams.a]\ntoken_sha256 = "plain-token"\n', "invalid token_sha256 'plain-token'"),
        (
            f'[teams.a]\ntoken_sha256 = "{"d" * 64}"\n[teams.b]\ntoken_sha256 = "{"d" * 64}"\n',
            "listed for both team 'a' and team 'b'",
        ),
        ("[teams.a]\ntoken_sha256 = 5\n", "invalid token_sha256 5 of team 'a'"),
        ("[teams.a\n", "invalid TOML"),
    ],
)
def test_load_team_tokens_invalid(tmp_path: Path, body: str, message: str) -> None:
    path = teams_file(tmp_path / "teams.toml", body)

    with pytest.raises(LedgerInputError, match=message.replace("(", r"\(")):
        load_team_tokens(path)


@pytest.mark.parametrize("path", ["/mcp", "/v1/briefs", "/v1/logs", "/v1/ledger/events"])
def test_team_token_outside_reports(tmp_path: Path, path: str) -> None:
    client = client_for(tmp_path, api_token=ADMIN_TOKEN)

    response = client.post(
        path, json=TOOLS_LIST, headers={**MCP_HEADERS, "Authorization": f"Bearer {TEAM_TOKEN}"}
    )

    assert response.status_code == 403
    assert "api_token" in response.json()["detail"]


def test_team_token_on_metrics(tmp_path: Path) -> None:
    client = client_for(tmp_path, api_token=ADMIN_TOKEN)

    team = client.get("/metrics", headers={"Authorization": f"Bearer {TEAM_TOKEN}"})
    unknown = client.get("/metrics", headers={"Authorization": "Bearer not-a-token"})

    assert team.status_code == 403
    assert "the token of team 'platform' does not open /metrics" in team.json()["detail"]
    assert unknown.status_code == 401


def test_team_token_opens_dashboard(tmp_path: Path) -> None:
    client = client_for(tmp_path, api_token=ADMIN_TOKEN)

    response = client.get(
        "/dashboard/teams/platform",
        headers={"x-headstart-token": TEAM_TOKEN},
    )

    assert response.status_code == 200
    assert 'data-scope="platform"' in response.text


def test_team_tokens_alone_leave_api_open(tmp_path: Path) -> None:
    """Without an api_token, team tokens guard the ledger's figures and nothing else."""
    client = client_for(tmp_path, api_token=None)

    brief = client.post("/v1/briefs", json={})
    dashboard = client.get("/dashboard/data/spend.json")

    assert brief.status_code == 422
    assert dashboard.status_code == 401


def test_no_tokens_open_dashboard(tmp_path: Path) -> None:
    client = client_for(tmp_path, api_token=None, teams=False)

    response = client.get("/dashboard")
    login = client.get("/dashboard/login", follow_redirects=False)

    assert response.status_code == 200
    assert 'data-scope="admin"' in response.text
    assert login.status_code == 303


def test_admin_token_still_opens_api(tmp_path: Path) -> None:
    client = client_for(tmp_path, api_token=ADMIN_TOKEN)

    response = client.post(
        "/v1/briefs", json={}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )

    assert response.status_code == 422


def test_invalid_teams_file_fails_at_start(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        api_token=ADMIN_TOKEN,
        teams_file=teams_file(tmp_path / "teams.toml", '[teams.a]\ntoken_sha256 = "x"\n'),
    )

    with pytest.raises(LedgerInputError, match="invalid token_sha256 'x'"):
        build_app(settings)
