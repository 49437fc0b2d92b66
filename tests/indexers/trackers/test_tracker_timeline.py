"""GitHub issue timelines: cross-referencing pull requests and referencing commits become bug links."""

from __future__ import annotations

from test_tracker_github import TOKEN, closed_event, issue, links, pull
from tracker_fakes import FakeApi, serve

from conftest import REPO
from headstart.indexers.trackers.checkpoints import Checkpoints
from headstart.indexers.trackers.github import index_github
from headstart.indexers.trackers.timeline import timeline_links
from headstart.records import LinkKind

BASE = "/repos/acme/widgets"
API = "https://api.github.com"


def user(login: str) -> dict:
    return {"login": login, "id": 1, "type": "User", "html_url": f"https://github.com/{login}"}


def cross_reference(
    number: int,
    at: str,
    *,
    merged_at: str | None,
    state: str,
    slug: str = "acme/widgets",
    is_pull: bool = True,
) -> dict:
    """A `cross-referenced` event as the timeline API lists it: the source is the full issue object."""
    source_issue = {
        "id": 70000 + number,
        "number": number,
        "title": f"Item {number}",
        "state": state,
        "user": user("grace"),
        "html_url": f"https://github.com/{slug}/{'pull' if is_pull else 'issues'}/{number}",
        "repository_url": f"{API}/repos/{slug}",
        "repository": {"id": 42, "name": slug.split("/")[1], "full_name": slug},
        "created_at": "2024-02-01T08:00:00Z",
        "updated_at": at,
    }
    if is_pull:
        source_issue["pull_request"] = {
            "url": f"{API}/repos/{slug}/pulls/{number}",
            "html_url": f"https://github.com/{slug}/pull/{number}",
            "merged_at": merged_at,
        }
    return {
        "event": "cross-referenced",
        "actor": user("grace"),
        "created_at": at,
        "updated_at": at,
        "source": {"type": "issue", "issue": source_issue},
    }


def commit_event(kind: str, sha: str, at: str, slug: str = "acme/widgets") -> dict:
    """A `referenced` or `connected` event naming a commit, as the timeline API lists it."""
    return {
        "id": 8000,
        "node_id": "REFE_kwDOA",
        "url": f"{API}/repos/acme/widgets/issues/events/8000",
        "actor": user("ada"),
        "event": kind,
        "commit_id": sha,
        "commit_url": f"{API}/repos/{slug}/commits/{sha}",
        "created_at": at,
        "performed_via_github_app": None,
    }


def serve_timelines(api: FakeApi, widgets) -> None:
    api.add(BASE, {"full_name": "acme/widgets"})
    closed_bug = issue(
        3, "2024-03-01T00:00:00Z", labels=["bug"], state="closed", title="Crash on empty input"
    )
    closed_bug["closed_at"] = "2024-02-20T00:00:00Z"
    api.pages(
        f"{BASE}/issues",
        [
            closed_bug,
            issue(7, "2024-03-02T00:00:00Z", pull=True),
            issue(8, "2024-03-03T00:00:00Z", labels=["bug"], title="Parser drops unicode"),
            issue(10, "2024-03-04T00:00:00Z", labels=["question"]),
        ],
    )
    api.add(
        f"{BASE}/pulls/7",
        pull(7, widgets.rebase_last, 2, body="Split the tokenizer out of the parser."),
    )
    api.add(f"{BASE}/pulls/7/files", [{"filename": "src/tokens.py"}, {"filename": "src/parser.py"}])
    api.add(f"{BASE}/pulls/7/reviews", [])
    api.add(f"{BASE}/pulls/7/comments", [])

    # Two pages, so the timeline is read by its Link headers like every other list.
    api.pages(
        f"{BASE}/issues/3/timeline",
        [
            {
                "event": "labeled",
                "actor": user("ada"),
                "created_at": "2024-02-01T10:00:00Z",
                "label": {"name": "bug", "color": "d73a4a"},
            },
            commit_event("referenced", widgets.rebase_first, "2024-02-01T11:00:00Z"),
            commit_event("referenced", "f" * 40, "2024-02-01T11:30:00Z", slug="someone/widgets"),
            cross_reference(
                7, "2024-02-01T12:00:00Z", merged_at="2024-02-02T10:00:00Z", state="closed"
            ),
            cross_reference(
                11, "2024-02-03T12:00:00Z", merged_at=None, state="open", is_pull=False
            ),
        ],
        [
            cross_reference(
                2,
                "2024-02-04T12:00:00Z",
                merged_at="2024-02-05T00:00:00Z",
                state="closed",
                slug="other/fork",
            ),
            closed_event(widgets.squash, "2024-02-20T00:00:00Z"),
            cross_reference(
                9, "2024-02-25T12:00:00Z", merged_at="2024-02-26T00:00:00Z", state="closed"
            ),
            commit_event("referenced", widgets.merge, "2024-02-26T00:00:00Z"),
        ],
    )
    api.add(
        f"{BASE}/issues/8/timeline",
        [
            cross_reference(12, "2024-03-01T12:00:00Z", merged_at=None, state="open"),
            cross_reference(13, "2024-03-01T13:00:00Z", merged_at=None, state="closed"),
            commit_event("connected", widgets.merge, "2024-03-02T00:00:00Z"),
        ],
    )


def run(store, api, checkpoints) -> object:
    return index_github(
        store,
        "acme/widgets",
        token=TOKEN,
        checkpoints=checkpoints,
        api_url=api.base_url,
        repo_name=REPO,
        sleep=lambda _: None,
    )


def test_timeline_links_bugs(widgets, store, tmp_path):
    api = FakeApi()
    with serve(api):
        serve_timelines(api, widgets)
        report = run(store, api, Checkpoints(tmp_path / "checkpoints.json"))

    closed = store.get(REPO, "bug", "#3")
    assert links(closed, LinkKind.FIXED_BY) == [
        f"commit:{widgets.squash}",
        f"commit:{widgets.rebase_first}",
        "pull_request:#7",
        # From the store: the squash commit's "(#5)" pull request links fixes #3.
        "pull_request:#5",
    ]
    assert {"src/parser.py", "tests/test_parser.py", "src/tokens.py"} == set(closed.files)

    opened = store.get(REPO, "bug", "#8")
    assert links(opened, LinkKind.FIXED_BY) == ["pull_request:#12", f"commit:{widgets.merge}"]
    assert opened.files == ["src/output.py"]

    # The pull request whose body lacks "fixes #3" now lists the bug on read.
    assert "bug:#3" in links(store.get(REPO, "pull_request", "#7"), LinkKind.FIXES)
    assert report.bugs == 2


def test_timeline_requests_bounded(widgets, store, tmp_path):
    api = FakeApi()
    with serve(api):
        serve_timelines(api, widgets)
        report = run(store, api, Checkpoints(tmp_path / "checkpoints.json"))

    timelines = [seen for seen in api.seen if seen.path.endswith("/timeline")]
    assert [(seen.path, seen.query.get("page", "1")) for seen in timelines] == [
        (f"{BASE}/issues/3/timeline", "1"),
        (f"{BASE}/issues/3/timeline", "2"),
        (f"{BASE}/issues/8/timeline", "1"),
    ]
    assert timelines[0].query["per_page"] == "100"
    assert all(seen.headers["Authorization"] == f"Bearer {TOKEN}" for seen in timelines)
    assert report.requests == len(api.seen)


def test_timeline_rerun_no_duplicates(widgets, store, tmp_path):
    api = FakeApi()
    with serve(api):
        serve_timelines(api, widgets)
        run(store, api, Checkpoints(tmp_path / "first.json"))
        rows = store.columns(REPO, ["id"]).num_rows
        first = store.get(REPO, "bug", "#3").links
        # A fresh checkpoint file makes the run read every issue and timeline again.
        run(store, api, Checkpoints(tmp_path / "second.json"))

    assert store.columns(REPO, ["id"]).num_rows == rows
    assert store.get(REPO, "bug", "#3").links == first


def test_timeline_open_and_unclosed_rules():
    reopened = {"number": 4, "state": "open", "closed_at": None}
    events = [
        cross_reference(
            5,
            "2024-01-01T00:00:00Z",
            merged_at="2024-01-02T00:00:00Z",
            state="closed",
            slug="ACME/Widgets",
        ),
        {
            "event": "cross-referenced",
            "created_at": "2024-01-03T00:00:00Z",
            "source": {"type": "issue", "issue": {}},
        },
        {"event": "referenced", "commit_id": None, "created_at": "2024-01-03T00:00:00Z"},
        # Mentioned a week after its merge: a cause, not a fix.
        cross_reference(
            6, "2024-01-10T00:00:00Z", merged_at="2024-01-02T00:00:00Z", state="closed"
        ),
        commit_event("referenced", "a" * 40, "2024-01-04T00:00:00Z"),
        commit_event("referenced", "a" * 40, "2024-01-05T00:00:00Z"),
    ]

    found = timeline_links("acme/widgets", reopened, events)

    assert [link.target for link in found] == ["pull_request:#5", f"commit:{'a' * 40}"]
    assert {link.kind for link in found} == {LinkKind.FIXED_BY}
