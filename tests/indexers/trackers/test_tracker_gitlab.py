"""GitLab merge requests, diff notes and bugs fetched from a local server."""

from __future__ import annotations

import pytest
from tracker_fakes import FakeApi, Reply, serve

from headstart.indexers.pipeline import index_repository
from headstart.indexers.trackers.checkpoints import Checkpoints
from headstart.indexers.trackers.gitlab import index_gitlab
from headstart.indexers.trackers.http import TrackerError
from headstart.records import LinkKind, RecordKind, record_id

REPO = "gitlab.com/acme/widgets"
TOKEN = "glpat-testtoken000000000"
PROJECT = "/projects/acme%2Fwidgets"


@pytest.fixture
def gitlab_repo(git_repo, store):
    repo = git_repo
    repo.git("remote", "add", "origin", "git@gitlab.com:acme/widgets.git")
    repo.commit("Add parser", {"src/parser.py": "def parse(text):\n    return text.split()\n"})
    repo.git("checkout", "-q", "-b", "fix")
    repo.commit("Guard empty input", {"src/parser.py": "def parse(text):\n    return text.split() if text else []\n", "tests/test_parser.py": "def test_empty():\n    pass\n"})
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "fix", "-m", "Merge branch 'fix' into 'main'\n\nFix crash on empty input\n\nCloses #2\n\nSee merge request acme/widgets!4")
    merge = repo.head()
    index_repository(store, repo.path, workers=1)
    return merge


def merge_request(iid: int, sha: str, updated: str) -> dict:
    return {
        "iid": iid,
        "title": "Fix crash on empty input",
        "description": "Closes #2",
        "state": "merged",
        "merge_commit_sha": sha,
        "squash_commit_sha": None,
        "labels": ["bugfix"],
        "author": {"username": "grace"},
        "created_at": "2024-02-01T09:00:00.000Z",
        "updated_at": updated,
        "web_url": f"https://gitlab.com/acme/widgets/-/merge_requests/{iid}",
    }


def serve_project(api: FakeApi, merge: str) -> None:
    api.add(PROJECT, {"id": 1, "path_with_namespace": "acme/widgets"})
    api.pages(f"{PROJECT}/merge_requests", [merge_request(4, merge, "2024-03-01T00:00:00.000Z")], [])
    api.add(f"{PROJECT}/merge_requests/4/diffs", [{"new_path": "src/parser.py", "old_path": "src/parser.py"}, {"new_path": "tests/test_parser.py", "old_path": "tests/test_parser.py"}])
    api.add(
        f"{PROJECT}/merge_requests/4/notes",
        [
            {"id": 71, "type": "DiffNote", "system": False, "body": "Avoid splitting by hand; use the tokenizer.", "author": {"username": "linus"}, "created_at": "2024-02-01T10:00:00.000Z", "position": {"new_path": "src/parser.py", "new_line": 2, "old_path": "src/parser.py"}},
            {"id": 72, "system": True, "body": "approved this merge request", "author": {"username": "linus"}, "created_at": "2024-02-01T11:00:00.000Z"},
            {"id": 73, "system": False, "body": "Thanks!", "author": {"username": "ada"}, "created_at": "2024-02-01T12:00:00.000Z"},
        ],
    )
    api.add(
        f"{PROJECT}/issues",
        Reply(429, {"message": "Retry later"}, {"Retry-After": "2"}),
        [
            {"iid": 2, "title": "Crash on empty input", "description": "parse('') fails", "state": "closed", "labels": ["bug"], "author": {"username": "ada"}, "created_at": "2024-01-20T00:00:00.000Z", "updated_at": "2024-03-02T00:00:00.000Z", "web_url": "https://gitlab.com/acme/widgets/-/issues/2"},
            {"iid": 6, "title": "Docs typo", "description": "", "state": "opened", "labels": ["docs"], "author": {"username": "ada"}, "created_at": "2024-01-21T00:00:00.000Z", "updated_at": "2024-03-03T00:00:00.000Z"},
        ],
    )
    api.add(f"{PROJECT}/issues/2/closed_by", [{"iid": 4}])


def test_gitlab_records_and_links(gitlab_repo, store, tmp_path):
    api = FakeApi()
    sleeps: list[float] = []
    checkpoints = Checkpoints(tmp_path / "checkpoints.json")
    with serve(api, prefix="/api/v4"):
        serve_project(api, gitlab_repo)
        url = api.base_url.removesuffix("/api/v4")
        report = index_gitlab(store, "acme/widgets", token=TOKEN, checkpoints=checkpoints, url=url, repo_name=REPO, sleep=sleeps.append)

    assert (report.pull_requests, report.review_comments, report.bugs) == (1, 1, 1)
    assert sleeps == [2.0]
    assert all(seen.headers["PRIVATE-TOKEN"] == TOKEN for seen in api.seen)

    request = store.get(REPO, "pull_request", "acme/widgets!4")
    assert request.id == record_id(REPO, RecordKind.PULL_REQUEST, "acme/widgets!4")
    assert [link.target for link in request.links if link.kind == LinkKind.MERGED_AS] == [f"commit:{gitlab_repo}"]
    assert {"merged", "bugfix", "gitlab"} <= set(request.labels)
    assert request.files == ["src/parser.py", "tests/test_parser.py"]

    note = store.get(REPO, "review_comment", "acme/widgets!4/note-71")
    assert note.files == ["src/parser.py"]
    assert note.labels == ["line:2"]
    assert store.get(REPO, "review_comment", "acme/widgets!4/note-72") is None

    bug = store.get(REPO, "bug", "acme/widgets#2")
    assert bug.labels == ["closed", "bug"]
    fixed_by = [link.target for link in bug.links if link.kind == LinkKind.FIXED_BY]
    assert fixed_by[0] == "pull_request:acme/widgets!4"
    assert f"commit:{gitlab_repo}" in fixed_by
    assert bug.files == ["src/parser.py", "tests/test_parser.py"]
    assert store.get(REPO, "bug", "acme/widgets#6") is None

    assert checkpoints.get(f"gitlab:{REPO}:merge_requests@{store.uri}") == "2024-03-01T00:00:00.000Z"
    assert checkpoints.get(f"gitlab:{REPO}:issues@{store.uri}") == "2024-03-03T00:00:00.000Z"


def test_gitlab_rerun_uses_updated_after(gitlab_repo, store, tmp_path):
    api = FakeApi()
    checkpoints = Checkpoints(tmp_path / "checkpoints.json")
    with serve(api, prefix="/api/v4"):
        serve_project(api, gitlab_repo)
        url = api.base_url.removesuffix("/api/v4")
        index_gitlab(store, "acme/widgets", token=TOKEN, checkpoints=checkpoints, url=url, repo_name=REPO, sleep=lambda _: None)
        api.seen.clear()
        index_gitlab(store, "acme/widgets", token=TOKEN, checkpoints=checkpoints, url=url, repo_name=REPO, sleep=lambda _: None)

    queries: dict[str, dict[str, str]] = {}
    for seen in api.seen:
        queries.setdefault(seen.path, seen.query)
    assert queries[f"{PROJECT}/merge_requests"]["updated_after"] == "2024-03-01T00:00:00.000Z"
    assert queries[f"{PROJECT}/issues"]["updated_after"] == "2024-03-03T00:00:00.000Z"


def test_gitlab_wrong_token(store, tmp_path):
    api = FakeApi()
    with serve(api, prefix="/api/v4"):
        api.add(PROJECT, Reply(401, {"message": "401 Unauthorized"}))
        url = api.base_url.removesuffix("/api/v4")
        with pytest.raises(TrackerError) as caught:
            index_gitlab(store, "acme/widgets", token=TOKEN, checkpoints=Checkpoints(tmp_path / "c.json"), url=url, repo_name=REPO)

    message = str(caught.value)
    assert message.startswith(f"gitlab:{REPO}: the token was rejected")
    assert "GITLAB_TOKEN" in message
    assert TOKEN not in message
