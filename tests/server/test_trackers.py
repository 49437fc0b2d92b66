"""`/v1/index/trackers`, `/v1/index/imports` and `/v1/index/jobs`, against a GitHub API on loopback."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from headstart.config import Settings
from headstart.server.app import build_app
from headstart.service import Headstart
from headstart.store import Embedder, Store
from indexers.trackers.tracker_fakes import FakeApi, Reply, serve

pytestmark = pytest.mark.slow

API_TOKEN = "server-api-token"
GITHUB_TOKEN = "ghp_servertoken00000000000000"
HEADERS = {"Authorization": f"Bearer {API_TOKEN}"}
REPO = "github.com/acme/widgets"


def bug(number: int, updated: str, title: str = "Parser crashes on empty input") -> dict:
    return {
        "number": number,
        "title": title,
        "body": 'Traceback (most recent call last):\n  File "src/parser.py", line 2',
        "state": "open",
        "labels": [{"name": "bug"}],
        "user": {"login": "ada"},
        "created_at": "2024-02-01T10:00:00Z",
        "updated_at": updated,
        "closed_at": None,
        "html_url": f"https://github.com/acme/widgets/issues/{number}",
    }


def serve_github(api: FakeApi) -> None:
    base = "/repos/acme/widgets"
    api.add(base, {"id": 1, "full_name": "acme/widgets", "private": False})
    api.add(f"{base}/issues", [bug(4, "2024-02-02T00:00:00Z")])
    api.add(
        f"{base}/issues/4/timeline",
        [
            {
                "event": "cross-referenced",
                "actor": {"login": "grace"},
                "created_at": "2024-02-01T12:00:00Z",
                "updated_at": "2024-02-01T12:00:00Z",
                "source": {
                    "type": "issue",
                    "issue": {
                        "number": 6,
                        "state": "open",
                        "title": "Guard empty input",
                        "repository": {"full_name": "acme/widgets"},
                        "pull_request": {
                            "url": "https://api.github.com/repos/acme/widgets/pulls/6",
                            "merged_at": None,
                        },
                    },
                },
            }
        ],
    )


@pytest.fixture
def github() -> Iterator[FakeApi]:
    api = FakeApi()
    with serve(api):
        serve_github(api)
        yield api


@pytest.fixture
def make_client(tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch):
    """Build a TestClient over a fresh store; the tracker URL and token are the server's environment."""
    clients: list[TestClient] = []

    def make(api_url: str, *, api_token: str | None = API_TOKEN) -> TestClient:
        monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", api_url)
        monkeypatch.delenv("GH_TOKEN", raising=False)
        monkeypatch.delenv("HEADSTART_TRACKER_CONFIG", raising=False)
        settings = Settings(
            data_dir=tmp_path / "data", db=str(tmp_path / "store"), api_token=api_token
        )
        headstart = Headstart(settings, store=Store(settings.store_uri, embedder))
        client = TestClient(build_app(settings, headstart), base_url="http://127.0.0.1:8787")
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def finished(
    client: TestClient | httpx.Client, location: str, headers: dict[str, str] = HEADERS
) -> dict:
    """Poll a job until it succeeds or fails, and return its last state."""
    deadline = time.monotonic() + 120
    while True:
        job = client.get(location, headers=headers).json()
        if job["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def rows(tmp_path: Path, embedder: Embedder) -> int:
    return Store(str(tmp_path / "store"), embedder).columns(REPO, ["id"]).num_rows


def test_github_job_runs_and_reruns(make_client, github, tmp_path, embedder, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(github.base_url)

    response = client.post(
        "/v1/index/trackers", json={"tracker": "github", "project": "acme/widgets"}, headers=HEADERS
    )

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["state"] in ("queued", "running")
    assert accepted["source"] == "github:127.0.0.1/acme/widgets"
    assert response.headers["location"] == f"/v1/index/jobs/{accepted['id']}"
    job = finished(client, response.headers["location"])
    assert job["state"] == "succeeded", job
    assert job["written"] == {"pull_request": 0, "review_comment": 0, "bug": 1}
    # The run's own requests: the repository, the issue listing and one timeline. The check
    # before the job fetched the repository too, but that request is not the job's.
    assert job["requests"] == 3
    assert job["repos"] == ["127.0.0.1/acme/widgets"]
    assert all(seen.headers["Authorization"] == f"Bearer {GITHUB_TOKEN}" for seen in github.seen)

    again = client.post(
        "/v1/index/trackers",
        json={"tracker": "github", "project": "acme/widgets", "repo": REPO},
        headers=HEADERS,
    )
    assert finished(client, again.headers["location"])["state"] == "succeeded"
    count = rows(tmp_path, embedder)
    github.seen.clear()
    third = client.post(
        "/v1/index/trackers",
        json={"tracker": "github", "project": "acme/widgets", "repo": REPO},
        headers=HEADERS,
    )
    assert finished(client, third.headers["location"])["written"]["bug"] == 1

    assert rows(tmp_path, embedder) == count
    listing = [seen for seen in github.seen if seen.path == "/repos/acme/widgets/issues"]
    assert listing[0].query["since"] == "2024-02-02T00:00:00Z"
    assert GITHUB_TOKEN not in caplog.text
    listed = client.get("/v1/index/jobs", headers=HEADERS).json()
    assert [item["id"] for item in listed][:3] == [
        third.json()["id"],
        again.json()["id"],
        accepted["id"],
    ]


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (
            {"tracker": "bitbucket", "project": "acme/widgets"},
            400,
            "unknown tracker 'bitbucket'; use one of 'github', 'gitlab'",
        ),
        ({"tracker": "jira", "project": "WID"}, 400, "Jira is read from exports"),
        (
            {"tracker": "github", "project": "acme"},
            400,
            "github project 'acme' is not owner/name; send it like 'pallets/click'",
        ),
        (
            {"tracker": "gitlab", "project": "acme widgets"},
            400,
            "gitlab project 'acme widgets' is not group/project",
        ),
        (
            {"tracker": "github", "project": "acme/nothing"},
            404,
            "not found (HTTP 404 on '/repos/acme/nothing')",
        ),
        (
            {"tracker": "github", "project": "acme/widgets", "bug_labels": [" "]},
            400,
            "bug_labels is empty",
        ),
        (
            {"tracker": "github", "project": "acme/widgets", "api_url": "https://evil.example"},
            422,
            "'api_url' cannot be sent",
        ),
        ({"tracker": "github"}, 422, "project"),
    ],
)
def test_tracker_bad_input(make_client, github, body, status, expected):
    client = make_client(github.base_url)

    response = client.post("/v1/index/trackers", json=body, headers=HEADERS)

    assert response.status_code == status, response.text
    assert expected in json.dumps(response.json()["detail"])
    assert client.get("/v1/index/jobs", headers=HEADERS).json() == []


def test_tracker_unreachable(make_client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{closed_port}")

    response = client.post(
        "/v1/index/trackers", json={"tracker": "github", "project": "acme/widgets"}, headers=HEADERS
    )

    assert response.status_code == 502
    detail = response.json()["detail"]
    assert "network error on 'repos/acme/widgets'" in detail
    assert "check the network and the base URL" in detail


def test_tracker_token_rejected(make_client):
    api = FakeApi()
    with serve(api):
        api.add("/repos/acme/widgets", Reply(401, {"message": "Bad credentials"}))
        client = make_client(api.base_url)
        response = client.post(
            "/v1/index/trackers",
            json={"tracker": "github", "project": "acme/widgets"},
            headers=HEADERS,
        )

    assert response.status_code == 502
    assert "the token was rejected (HTTP 401" in response.json()["detail"]
    assert "set GITHUB_TOKEN" in response.json()["detail"]
    assert GITHUB_TOKEN not in response.text


def test_index_routes_need_api_token(make_client, github):
    open_client = make_client(github.base_url, api_token=None)
    secured = make_client(github.base_url)

    unset = open_client.post(
        "/v1/index/trackers", json={"tracker": "github", "project": "acme/widgets"}
    )
    missing = secured.post(
        "/v1/index/trackers", json={"tracker": "github", "project": "acme/widgets"}
    )

    assert unset.status_code == 403
    assert "set HEADSTART_API_TOKEN" in unset.json()["detail"]
    assert missing.status_code == 401
    assert github.seen == []


def gh_issues(*numbers: int) -> bytes:
    return json.dumps(
        [
            {
                "author": {"login": "ada"},
                "body": "Crashes on empty input",
                "createdAt": "2024-01-01T00:00:00Z",
                "labels": [{"name": "bug"}],
                "number": number,
                "state": "OPEN",
                "title": f"Crash {number}",
                "url": f"https://github.com/acme/widgets/issues/{number}",
            }
            for number in numbers
        ]
        + [
            {
                "author": {"login": "ada"},
                "labels": [{"name": "bug"}],
                "number": 99,
                "state": "OPEN",
                "title": "No date",
                "url": "https://github.com/acme/widgets/issues/99",
            }
        ]
    ).encode()


def test_import_upload_and_reupload(make_client, github, tmp_path, embedder):
    client = make_client(github.base_url)
    headers = {**HEADERS, "Content-Type": "application/json"}

    first = client.post(
        "/v1/index/imports?name=issues.json", content=gh_issues(3, 5), headers=headers
    )
    assert first.status_code == 202, first.text
    job = finished(client, first.headers["location"])
    count = rows(tmp_path, embedder)
    second = client.post(
        "/v1/index/imports?name=issues.json", content=gh_issues(3, 5), headers=headers
    )
    again = finished(client, second.headers["location"])

    assert job["state"] == "succeeded", job
    assert job["source"] == "import:issues.json"
    assert job["written"] == {"bug": 2}
    assert job["repos"] == [REPO]
    assert job["skipped_count"] == 1
    assert job["skipped"] == [
        "record 3: no createdAt, mergedAt, closedAt or updatedAt; add createdAt to the --json fields; record skipped"
    ]
    assert again["written"] == {"bug": 2}
    assert rows(tmp_path, embedder) == count == 2


def test_import_jira_csv(make_client, github, tmp_path, embedder):
    client = make_client(github.base_url)
    csv_body = (
        b"Issue key,Summary,Description,Issue Type,Status,Status Category,Resolution,Labels,Reporter,Created\n"
        b'WID-3,Crash on empty input,"Traceback:\n  File src/parser.py",Bug,Open,To Do,,,Ada,2024-01-05T10:00:00+00:00\n'
    )
    headers = {**HEADERS, "Content-Type": "text/csv; charset=utf-8"}

    without_repo = client.post("/v1/index/imports?name=jira.csv", content=csv_body, headers=headers)
    with_repo = client.post(
        f"/v1/index/imports?name=jira.csv&repo={REPO}", content=csv_body, headers=headers
    )

    assert without_repo.status_code == 400
    assert (
        "line 2: a Jira issue does not name its repository; pass --repo host/owner/name (`repo` over HTTP)"
        in without_repo.json()["detail"]
    )
    assert with_repo.status_code == 202, with_repo.text
    job = finished(client, with_repo.headers["location"])
    assert job["written"] == {"bug": 1}
    assert (
        Store(str(tmp_path / "store"), embedder).get(REPO, "bug", "WID-3").title
        == "Crash on empty input"
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "expected"),
    [
        (
            b"not json at all",
            "application/json",
            400,
            "no record in the export 'upload' could be read (1 failed: line 1: invalid JSON",
        ),
        (b'[{"foo": 1}]', "application/json", 400, "record 1: unknown record shape (fields: foo)"),
        (b"  \n", "application/json", 400, "the export 'upload' is empty"),
        (b"\xff\xfe\x00garbage", "text/csv", 400, "is not a UTF-8 JSON or CSV export"),
        (b"[]", "text/plain", 415, "content type 'text/plain' is not an export"),
    ],
)
def test_import_bad_export(make_client, github, body, content_type, status, expected):
    client = make_client(github.base_url)

    response = client.post(
        "/v1/index/imports", content=body, headers={**HEADERS, "Content-Type": content_type}
    )

    assert response.status_code == status, response.text
    assert expected in response.json()["detail"]


def test_job_unknown(make_client, github):
    client = make_client(github.base_url)

    response = client.get("/v1/index/jobs/job_1_deadbeef", headers=HEADERS)

    assert response.status_code == 404
    assert "no job 'job_1_deadbeef' on this server process" in response.json()["detail"]


def test_index_routes_documented(make_client, github):
    client = make_client(github.base_url)
    documented = (Path(__file__).parents[2] / "docs" / "trackers.md").read_text()

    paths = client.app.openapi()["paths"]
    routes = [
        (method.upper(), path)
        for path, item in paths.items()
        if path.startswith("/v1/index")
        for method in item
    ]

    assert len(routes) == 4
    for method, path in routes:
        assert f"`{method} {path}`" in documented
