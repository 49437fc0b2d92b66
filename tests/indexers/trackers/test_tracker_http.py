"""The retrying client against a local server: paging, rate limits, 5xx, errors without tokens."""

from __future__ import annotations

import socket
import time

import pytest
from tracker_fakes import FakeApi, Reply, serve

from headstart.indexers.trackers.http import (
    Auth,
    TrackerAuthError,
    TrackerClient,
    TrackerError,
    TrackerNotFoundError,
    TrackerUnavailableError,
)

TOKEN = "ghp_secretvalue1234567890"


def client_for(api: FakeApi, sleeps: list[float], **options) -> TrackerClient:
    return TrackerClient(
        "github:github.com/acme/widgets",
        api.base_url,
        Auth("Authorization", f"Bearer {TOKEN}"),
        token_help="set GITHUB_TOKEN",
        sleep=sleeps.append,
        **options,
    )


def test_pages_follow_link_headers():
    api = FakeApi()
    with serve(api):
        api.pages("/items", [{"n": 1}, {"n": 2}], [{"n": 3}], [{"n": 4}])
        with client_for(api, []) as client:
            pages = list(client.pages("items", {"per_page": 100}))

    assert pages == [[{"n": 1}, {"n": 2}], [{"n": 3}], [{"n": 4}]]
    assert [seen.query.get("page") for seen in api.seen] == [None, "2", "3"]
    assert api.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_retries_502_then_succeeds():
    api = FakeApi()
    sleeps: list[float] = []
    with serve(api):
        api.add(
            "/thing",
            Reply(502, {"message": "Bad Gateway"}),
            Reply(502, {}),
            Reply(body={"ok": True}),
        )
        with client_for(api, sleeps, backoff=0.5) as client:
            assert client.get("thing") == {"ok": True}

    assert sleeps == [0.5, 1.0]
    assert len(api.seen) == 3


def test_secondary_limit_waits_retry_after():
    api = FakeApi()
    sleeps: list[float] = []
    with serve(api):
        limited = Reply(
            403, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "7"}
        )
        api.add("/thing", limited, Reply(body={"ok": True}))
        with client_for(api, sleeps) as client:
            assert client.get("thing") == {"ok": True}

    assert sleeps == [7.0]


def test_secondary_limit_without_header_backs_off():
    api = FakeApi()
    sleeps: list[float] = []
    with serve(api):
        limited = Reply(403, {"message": "You have exceeded a secondary rate limit."})
        api.add("/thing", limited, Reply(body={"ok": True}))
        with client_for(api, sleeps) as client:
            client.get("thing")

    assert sleeps == [60.0]


def test_primary_limit_waits_until_reset():
    api = FakeApi()
    sleeps: list[float] = []
    reset = int(time.time()) + 30
    with serve(api):
        spent = Reply(
            403,
            {"message": "API rate limit exceeded"},
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        )
        api.add("/thing", spent, Reply(body={"ok": True}))
        with client_for(api, sleeps) as client:
            client.get("thing")

    assert len(sleeps) == 1
    assert 25 <= sleeps[0] <= 32


def test_primary_limit_past_max_wait_stops():
    api = FakeApi()
    reset = int(time.time()) + 3600
    with serve(api):
        spent = Reply(
            403,
            {"message": "API rate limit exceeded"},
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        )
        api.add("/thing", spent)
        with client_for(api, [], max_wait=60) as client, pytest.raises(TrackerError) as caught:
            client.get("thing")

    message = str(caught.value)
    assert message.startswith("github:github.com/acme/widgets: the API rate limit is used up until")
    assert "resumes from the last checkpoint" in message


def test_401_names_fix_not_token(caplog):
    api = FakeApi()
    with serve(api):
        api.add("/repos/acme/widgets", Reply(401, {"message": "Bad credentials"}))
        with client_for(api, []) as client, pytest.raises(TrackerError) as caught:
            client.get("repos/acme/widgets")

    message = str(caught.value)
    assert "token was rejected" in message
    assert "GITHUB_TOKEN" in message
    assert TOKEN not in message
    assert TOKEN not in caplog.text


def test_404_says_not_found():
    api = FakeApi()
    with serve(api), client_for(api, []) as client, pytest.raises(TrackerError) as caught:
        client.get("repos/acme/missing")

    assert "not found (HTTP 404 on '/repos/acme/missing')" in str(caught.value)


def test_network_error_names_source(caplog):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    sleeps: list[float] = []
    client = TrackerClient(
        "gitlab:gitlab.com/acme/widgets",
        f"http://127.0.0.1:{port}",
        Auth("PRIVATE-TOKEN", TOKEN),
        token_help="set GITLAB_TOKEN",
        sleep=sleeps.append,
        backoff=0.01,
    )
    with client, pytest.raises(TrackerError) as caught:
        client.get("projects/1")

    message = str(caught.value)
    assert message.startswith(
        "gitlab:gitlab.com/acme/widgets: network error on 'projects/1' after 5 attempts"
    )
    assert len(sleeps) == 4
    assert TOKEN not in message
    assert TOKEN not in caplog.text


def test_non_list_page_is_error():
    api = FakeApi()
    with serve(api):
        api.add("/items", {"message": "not a list"})
        with client_for(api, []) as client, pytest.raises(TrackerError) as caught:
            list(client.pages("items"))

    assert "expected a JSON list" in str(caught.value)


def test_secondary_limit_outlasting_retries():
    api = FakeApi()
    sleeps: list[float] = []
    with serve(api):
        api.add(
            "/thing",
            Reply(
                403, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "2"}
            ),
        )
        with (
            client_for(api, sleeps, attempts=3) as client,
            pytest.raises(TrackerUnavailableError) as caught,
        ):
            client.get("thing")

    assert str(caught.value).startswith(
        "github:github.com/acme/widgets: still rate-limited (HTTP 403 on '/thing') after 3 attempts"
    )
    assert not isinstance(caught.value, TrackerAuthError)
    assert sleeps == [2.0, 2.0]
    assert len(api.seen) == 3


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, TrackerAuthError),
        (403, TrackerAuthError),
        (404, TrackerNotFoundError),
        (500, TrackerUnavailableError),
    ],
)
def test_error_classes_by_status(status, error):
    api = FakeApi()
    with serve(api):
        api.add("/thing", Reply(status, {"message": "no"}))
        with client_for(api, [], attempts=1) as client, pytest.raises(TrackerError) as caught:
            client.get("thing")

    assert type(caught.value) is error
