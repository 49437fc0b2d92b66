"""GitHub pull requests, reviews and bugs fetched from a local server into a store with git history."""

from __future__ import annotations

import pytest
from tracker_fakes import FakeApi, Reply, serve

from conftest import REPO
from headstart.indexers.trackers.checkpoints import Checkpoints
from headstart.indexers.trackers.github import index_github
from headstart.indexers.trackers.http import TrackerError
from headstart.records import LinkKind, RecordKind, record_id

TOKEN = "ghp_testtoken0000000000000000"


def issue(
    number: int, updated: str, *, labels=(), state="open", pull=False, body="", title=None
) -> dict:
    item = {
        "number": number,
        "title": title or f"Issue {number}",
        "body": body,
        "state": state,
        "labels": [{"name": name} for name in labels],
        "user": {"login": "ada"},
        "created_at": "2024-02-01T10:00:00Z",
        "updated_at": updated,
        "html_url": f"https://github.com/acme/widgets/{'pull' if pull else 'issues'}/{number}",
    }
    if pull:
        item["pull_request"] = {"url": f"https://api.github.com/repos/acme/widgets/pulls/{number}"}
    return item


def pull(number: int, sha: str, commits: int, *, labels=(), body="") -> dict:
    return {
        "number": number,
        "title": f"Pull {number}",
        "body": body,
        "state": "closed",
        "merged": True,
        "merged_at": "2024-02-02T10:00:00Z",
        "merge_commit_sha": sha,
        "commits": commits,
        "labels": [{"name": name} for name in labels],
        "user": {"login": "grace"},
        "created_at": "2024-02-01T09:00:00Z",
        "html_url": f"https://github.com/acme/widgets/pull/{number}",
    }


def closed_event(sha: str, at: str) -> dict:
    """A `closed` timeline event with the commit that closed the issue, as GitHub lists it."""
    return {
        "id": 9001,
        "node_id": "CE_kwDOA",
        "url": "https://api.github.com/repos/acme/widgets/issues/events/9001",
        "actor": {"login": "grace"},
        "event": "closed",
        "commit_id": sha,
        "commit_url": f"https://api.github.com/repos/acme/widgets/commits/{sha}",
        "created_at": at,
        "state_reason": "completed",
    }


def serve_widgets(api: FakeApi, widgets, *, page_two=None) -> None:
    base = "/repos/acme/widgets"
    api.add(base, {"full_name": "acme/widgets"})
    api.pages(
        f"{base}/issues",
        [
            issue(
                3,
                "2024-03-01T00:00:00Z",
                labels=["bug"],
                state="closed",
                title="Crash on empty input",
            ),
            issue(5, "2024-03-02T00:00:00Z", pull=True),
        ],
        [
            issue(7, "2024-03-03T00:00:00Z", pull=True),
            issue(
                8,
                "2024-03-04T00:00:00Z",
                labels=["bug"],
                title="Parser drops unicode",
                body='Traceback:\n  File "/home/ada/widgets/src/parser.py", line 2',
            ),
            issue(10, "2024-03-05T00:00:00Z", labels=["question"]),
            issue(9, "2024-03-06T00:00:00Z", pull=True),
        ],
    )
    if page_two is not None:
        api.add(f"{base}/issues", *page_two, page=2)
    api.add(
        f"{base}/pulls/5",
        pull(
            5,
            widgets.squash,
            3,
            labels=["bugfix"],
            body="Fixes #3\n\nThe parser crashed on empty input.",
        ),
    )
    api.pages(
        f"{base}/pulls/5/files",
        [{"filename": "src/parser.py"}],
        [{"filename": "tests/test_parser.py"}],
    )
    api.add(
        f"{base}/pulls/5/reviews",
        [
            {
                "id": 100,
                "state": "CHANGES_REQUESTED",
                "body": "Don't swallow the error; raise ParseError instead.",
                "user": {"login": "linus"},
                "submitted_at": "2024-02-01T11:00:00Z",
                "html_url": "https://github.com/acme/widgets/pull/5#pullrequestreview-100",
            },
            {
                "id": 101,
                "state": "APPROVED",
                "body": "",
                "user": {"login": "linus"},
                "submitted_at": "2024-02-01T12:00:00Z",
            },
        ],
    )
    api.add(
        f"{base}/pulls/5/comments",
        [
            {
                "id": 555,
                "pull_request_review_id": 100,
                "path": "src/parser.py",
                "line": 2,
                "body": "Please use the shared tokenizer instead of splitting by hand.",
                "user": {"login": "linus"},
                "created_at": "2024-02-01T11:00:00Z",
                "html_url": "https://github.com/acme/widgets/pull/5#discussion_r555",
            },
        ],
    )
    api.add(f"{base}/issues/3/timeline", [closed_event(widgets.squash, "2024-03-01T00:00:00Z")])
    api.add(f"{base}/issues/8/timeline", [])
    api.add(f"{base}/pulls/7", pull(7, widgets.rebase_last, 2))
    api.add(f"{base}/pulls/7/files", [{"filename": "src/tokens.py"}, {"filename": "src/parser.py"}])
    api.add(f"{base}/pulls/7/reviews", [])
    api.add(f"{base}/pulls/7/comments", [])
    api.add(f"{base}/pulls/9", pull(9, widgets.merge, 1))
    api.add(f"{base}/pulls/9/files", [{"filename": "src/output.py"}])
    api.add(f"{base}/pulls/9/reviews", [])
    api.add(f"{base}/pulls/9/comments", [])


def run(store, api, checkpoints, sleeps) -> object:
    return index_github(
        store,
        "acme/widgets",
        token=TOKEN,
        checkpoints=checkpoints,
        api_url=api.base_url,
        repo_name=REPO,
        sleep=sleeps.append,
    )


def links(record, kind: LinkKind) -> list[str]:
    return [link.target for link in record.links if link.kind == kind]


def test_github_records_and_links(widgets, store, tmp_path):
    api = FakeApi()
    sleeps: list[float] = []
    checkpoints = Checkpoints(tmp_path / "checkpoints.json")
    with serve(api):
        flaky = [
            Reply(502, {"message": "Server Error"}),
            Reply(
                403, {"message": "You have exceeded a secondary rate limit"}, {"Retry-After": "3"}
            ),
        ]
        serve_widgets(api, widgets)
        page_two = api.routes["/repos/acme/widgets/issues?page=2"]
        api.routes["/repos/acme/widgets/issues?page=2"] = flaky + page_two
        report = run(store, api, checkpoints, sleeps)

    assert (report.pull_requests, report.review_comments, report.bugs) == (3, 2, 2)
    assert sleeps == [1.0, 3.0]
    assert all(seen.headers["Authorization"] == f"Bearer {TOKEN}" for seen in api.seen)

    squashed = store.get(REPO, "pull_request", "#5")
    assert squashed.id == record_id(REPO, RecordKind.PULL_REQUEST, "#5")
    assert links(squashed, LinkKind.MERGED_AS) == [f"commit:{widgets.squash}"]
    assert {"merged", "bugfix", "squash"} <= set(squashed.labels)
    assert squashed.body == "Fixes #3\n\nThe parser crashed on empty input."
    assert squashed.files == ["src/parser.py", "tests/test_parser.py"]
    assert squashed.authors == ["grace"]
    # The stored link names the issue; the store adds the inverse of the bug's fixed_by link on read.
    assert links(squashed, LinkKind.FIXES) == ["issue:#3", "bug:#3"]

    rebased = store.get(REPO, "pull_request", "#7")
    assert links(rebased, LinkKind.MERGED_AS) == [
        f"commit:{widgets.rebase_last}",
        f"commit:{widgets.rebase_first}",
    ]
    merged = store.get(REPO, "pull_request", "#9")
    assert links(merged, LinkKind.MERGED_AS) == [f"commit:{widgets.merge}"]
    assert "merge" in merged.labels

    comment = store.get(REPO, "review_comment", "#5/555")
    assert comment.files == ["src/parser.py"]
    assert comment.labels == ["changes_requested", "line:2"]
    assert comment.authors == ["linus"]
    assert comment.body == "Please use the shared tokenizer instead of splitting by hand."
    summary = store.get(REPO, "review_comment", "#5/review-100")
    assert summary.labels == ["changes_requested", "review"]
    assert store.get(REPO, "review_comment", "#5/review-101") is None

    closed = store.get(REPO, "bug", "#3")
    assert closed.labels == ["closed", "bug"]
    assert links(closed, LinkKind.FIXED_BY) == [f"commit:{widgets.squash}", "pull_request:#5"]
    assert closed.files == ["src/parser.py", "tests/test_parser.py"]
    opened = store.get(REPO, "bug", "#8")
    assert opened.labels == ["open", "bug"]
    assert opened.files == ["src/parser.py"]
    assert store.get(REPO, "bug", "#10") is None

    assert checkpoints.get(f"github:{REPO}@{store.uri}") == "2024-03-06T00:00:00Z"


def test_github_rerun_uses_since(widgets, store, tmp_path):
    api = FakeApi()
    checkpoints = Checkpoints(tmp_path / "checkpoints.json")
    with serve(api):
        serve_widgets(api, widgets)
        run(store, api, checkpoints, [])
        version = store.version()
        api.seen.clear()
        api.add("/repos/acme/widgets/issues", [])
        report = run(store, api, checkpoints, [])

    listing = [seen for seen in api.seen if seen.path == "/repos/acme/widgets/issues"]
    assert listing[0].query["since"] == "2024-03-06T00:00:00Z"
    assert listing[0].query["direction"] == "asc"
    assert report.pull_requests == 0
    assert store.version() == version


def test_github_failure_keeps_fetched(widgets, store, tmp_path):
    api = FakeApi()
    checkpoints = Checkpoints(tmp_path / "checkpoints.json")
    with serve(api):
        serve_widgets(api, widgets, page_two=[Reply(500, {"message": "boom"})])
        with pytest.raises(TrackerError) as caught:
            index_github(
                store,
                "acme/widgets",
                token=TOKEN,
                checkpoints=checkpoints,
                api_url=api.base_url,
                repo_name=REPO,
                sleep=lambda _: None,
            )

    message = str(caught.value)
    assert message.startswith(f"github:{REPO}: HTTP 500 on '/repos/acme/widgets/issues'")
    assert TOKEN not in message
    assert store.get(REPO, "bug", "#3") is not None
    assert "merged" in store.get(REPO, "pull_request", "#5").labels
    assert store.get(REPO, "bug", "#8") is None
    assert checkpoints.get(f"github:{REPO}@{store.uri}") == "2024-03-02T00:00:00Z"

    # The next run resumes from the checkpoint of the last stored page.
    api2 = FakeApi()
    with serve(api2):
        serve_widgets(api2, widgets)
        run(store, api2, checkpoints, [])
    listing = [seen for seen in api2.seen if seen.path == "/repos/acme/widgets/issues"]
    assert listing[0].query["since"] == "2024-03-02T00:00:00Z"
    assert store.get(REPO, "bug", "#8") is not None


def test_github_mid_page_failure_keeps_items(widgets, store, tmp_path):
    api = FakeApi()
    checkpoints = Checkpoints(tmp_path / "checkpoints.json")
    with serve(api):
        serve_widgets(api, widgets)
        api.add("/repos/acme/widgets/pulls/9", Reply(404, {"message": "Not Found"}))
        with pytest.raises(TrackerError):
            run(store, api, checkpoints, [])

    assert store.get(REPO, "bug", "#8") is not None
    assert "merged" in store.get(REPO, "pull_request", "#7").labels
    assert checkpoints.get(f"github:{REPO}@{store.uri}") == "2024-03-02T00:00:00Z"


def test_github_missing_repository(store, tmp_path):
    api = FakeApi()
    with serve(api), pytest.raises(TrackerError) as caught:
        index_github(
            store,
            "acme/nothing",
            token=TOKEN,
            checkpoints=Checkpoints(tmp_path / "c.json"),
            api_url=api.base_url,
        )

    assert "not found (HTTP 404 on '/repos/acme/nothing')" in str(caught.value)
    assert str(caught.value).startswith("github:127.0.0.1/acme/nothing:")


def test_github_bad_slug(store, tmp_path):
    with pytest.raises(TrackerError) as caught:
        index_github(store, "acme", token=None, checkpoints=Checkpoints(tmp_path / "c.json"))

    assert "--github 'acme' is not owner/name" in str(caught.value)


def test_github_enterprise_repo_name(store, tmp_path):
    from headstart.indexers.trackers.github import repo_name_for

    assert repo_name_for("https://api.github.com", "acme/widgets") == "github.com/acme/widgets"
    assert (
        repo_name_for("https://ghe.example.com/api/v3", "acme/widgets")
        == "ghe.example.com/acme/widgets"
    )
