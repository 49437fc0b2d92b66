"""`headstart forget`: one repository leaves the store whole, the others stay."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.conftest import run_headstart as headstart

from headstart.config import Settings
from headstart.errors import IndexNotFoundError
from headstart.indexers.pipeline import index_repository
from headstart.indexers.trackers.checkpoints import default_checkpoints
from headstart.indexers.trackers.imports import import_file
from headstart.records import RecordKind
from headstart.service import Headstart
from headstart.store import Embedder, Store

pytestmark = pytest.mark.slow

SESSION_FILES = ["app/session.py", "tests/test_session.py"]


@pytest.fixture
def two_repositories(git_repo, tmp_path: Path):
    """Two small histories, each with a pull request and files changed together."""
    other = type(git_repo)(tmp_path / "other")
    other.path.mkdir()
    other.git("init", "-q", "-b", "main")
    for repo in (git_repo, other):
        repo.commit(
            "Add session store",
            {"app/session.py": "def load(): pass\n", "tests/test_session.py": "t = 1\n"},
        )
        repo.commit(
            "Fix session cookie expiry (#12)",
            {"app/session.py": "def load(): return 1\n", "tests/test_session.py": "t = 2\n"},
        )
    return git_repo, other


def checkpoint_sources(repo: str, store: Store) -> list[str]:
    """The sources the GitHub and GitLab indexers keep checkpoints under for `repo`."""
    return [
        f"github:{repo}@{store.uri}",
        f"gitlab:{repo}:merge_requests@{store.uri}",
        f"gitlab:{repo}:issues@{store.uri}",
    ]


def test_forget_removes_one_repository_whole(
    two_repositories, store: Store, embedder: Embedder, tmp_path: Path
) -> None:
    forgotten, remaining = two_repositories
    index_repository(store, forgotten.path)
    index_repository(store, remaining.path)
    forgotten_name, remaining_name = str(forgotten.path), str(remaining.path)
    for name in (forgotten_name, remaining_name):
        for source in checkpoint_sources(name, store):
            store.checkpoints.set(source, "2024-05-01T00:00:00Z")
    assert store.stats.applied(forgotten_name) == 2
    assert store.identifiers.saved(forgotten_name)

    forgot = headstart("forget", forgotten_name, "--db", store.uri, data=tmp_path / "data")

    assert forgot.returncode == 0, forgot.stderr
    assert (
        forgot.stdout
        == f"forgot {forgotten_name}: 2 commits and 1 pull request removed from the store\n"
    )
    after = Store(store.uri, embedder)
    assert [state.repo for state in after.repository_states()] == [remaining_name]
    assert after.repository_state(forgotten_name) is None
    assert after.keys(forgotten_name, RecordKind.COMMIT.value) == {}
    assert after.keys(forgotten_name, RecordKind.PULL_REQUEST.value) == {}
    assert after.columns(forgotten_name, ["id"]).num_rows == 0
    assert after.head_files(forgotten_name) is None
    assert after.identifiers.load(forgotten_name) is None
    assert after.stats.applied(forgotten_name) == 0
    assert after.stats.file_stats(forgotten_name, SESSION_FILES) == []
    assert after.stats.co_changes(forgotten_name, "app/session.py") == []
    assert [
        after.checkpoints.get(source) for source in checkpoint_sources(forgotten_name, store)
    ] == [None] * 3
    # The other repository keeps every row.
    assert len(after.keys(remaining_name, RecordKind.COMMIT.value)) == 2
    assert len(after.keys(remaining_name, RecordKind.PULL_REQUEST.value)) == 1
    assert after.identifiers.saved(remaining_name)
    assert after.stats.applied(remaining_name) == 2
    assert [stats.commits for stats in after.stats.file_stats(remaining_name, SESSION_FILES)] == [
        2,
        2,
    ]
    assert [
        after.checkpoints.get(source) for source in checkpoint_sources(remaining_name, store)
    ] == ["2024-05-01T00:00:00Z"] * 3

    service = Headstart(Settings(data_dir=tmp_path / "data", db=store.uri), store=after)
    brief = service.brief("session cookie expiry", repo=remaining_name, refresh=False)
    assert brief.likely_files[0].path == "app/session.py"
    with pytest.raises(IndexNotFoundError, match=f"no history is indexed for '{forgotten_name}'"):
        service.brief("session cookie expiry", repo=forgotten_name, refresh=False)

    # Indexed again, it starts from the beginning.
    report = index_repository(after, forgotten.path)
    assert report.commits_written == 2
    assert report.pull_requests_written == 1
    assert len(after.keys(forgotten_name, RecordKind.COMMIT.value)) == 2
    assert after.stats.applied(forgotten_name) == 2
    assert [stats.commits for stats in after.stats.file_stats(forgotten_name, SESSION_FILES)] == [
        2,
        2,
    ]
    assert after.identifiers.saved(forgotten_name)
    again = Headstart(Settings(data_dir=tmp_path / "data", db=store.uri), store=after)
    assert again.brief("session cookie expiry", repo=forgotten_name, refresh=False).likely_files


def test_forget_deleted_folder_by_path(two_repositories, store: Store, tmp_path: Path) -> None:
    forgotten, remaining = two_repositories
    index_repository(store, forgotten.path)
    index_repository(store, remaining.path)
    subprocess.run(["rm", "-rf", str(forgotten.path)], check=True)

    forgot = headstart(
        "forget",
        str(forgotten.path / ".." / forgotten.path.name),
        "--db",
        store.uri,
        data=tmp_path / "data",
    )

    assert forgot.returncode == 0, forgot.stderr
    assert forgot.stdout.startswith(f"forgot {forgotten.path}: 2 commits")


def test_forget_unknown_lists_indexed(two_repositories, store: Store, tmp_path: Path) -> None:
    forgotten, remaining = two_repositories
    index_repository(store, forgotten.path)
    index_repository(store, remaining.path)
    not_indexed = tmp_path / "elsewhere"
    not_indexed.mkdir()

    unknown = headstart("forget", "scratch", "--db", store.uri, data=tmp_path / "data")
    folder = headstart("forget", str(not_indexed), "--db", store.uri, data=tmp_path / "data")

    for result, given in ((unknown, "scratch"), (folder, str(not_indexed))):
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        assert f"error: repository '{given}' not found in the store" in result.stderr
        indexed = result.stderr.partition("(indexed: ")[2].partition(")")[0]
        assert sorted(indexed.split(", ")) == sorted([f"'{forgotten.path}'", f"'{remaining.path}'"])
    assert len(store.repository_states()) == 2


def test_forget_rejected_during_index_job(two_repositories, store: Store, tmp_path: Path) -> None:
    forgotten, _ = two_repositories
    index_repository(store, forgotten.path)

    with store.leases.acquire(f"index:{forgotten.path}", 60):
        busy = headstart("forget", str(forgotten.path), "--db", store.uri, data=tmp_path / "data")

    assert busy.returncode == 1
    assert (
        f"error: cannot remove '{forgotten.path}' from the store yet: 'index:{forgotten.path}' is being indexed"
        in busy.stderr
    )
    assert len(store.keys(str(forgotten.path), RecordKind.COMMIT.value)) == 2
    assert store.repository_state(str(forgotten.path)) is not None


def test_forget_tracker_only_repository(
    two_repositories, store: Store, tmp_path: Path
) -> None:
    indexed, _ = two_repositories
    index_repository(store, indexed.path)
    issues = [
        {
            "author": {"login": "ada"}, "body": "Totals are off.", "createdAt": "2024-01-05T00:00:00Z",
            "labels": [{"name": "bug"}], "number": number, "state": "OPEN", "title": f"Billing rounding {number}",
            "url": f"https://github.com/acme/billing/issues/{number}",
        }
        for number in (1, 2)
    ]
    export = tmp_path / "issues.json"
    export.write_text(json.dumps(issues))
    import_file(store, export)
    assert store.record_repositories() == {str(indexed.path), "github.com/acme/billing"}
    # Older versions indexed tracker checkpoints in a file of the data folder, read as a fallback.
    legacy = tmp_path / "data" / "trackers" / "checkpoints.json"
    legacy.parent.mkdir(parents=True)
    forgotten_key = f"github:github.com/acme/billing@{store.uri}"
    indexed_key = f"github:{indexed.path}@{store.uri}"
    legacy.write_text(json.dumps({forgotten_key: "2024-05-01T00:00:00Z", indexed_key: "2024-05-02T00:00:00Z"}))
    assert default_checkpoints(store, tmp_path / "data").get(forgotten_key) == "2024-05-01T00:00:00Z"

    forgot = headstart("forget", "github.com/acme/billing", "--db", store.uri, data=tmp_path / "data")
    unknown = headstart("forget", "github.com/acme/billing", "--db", store.uri, data=tmp_path / "data")

    assert forgot.returncode == 0, forgot.stderr
    assert forgot.stdout == "forgot github.com/acme/billing: 0 commits, 0 pull requests and 2 bugs removed from the store\n"
    assert store.record_repositories() == {str(indexed.path)}
    assert len(store.keys(str(indexed.path), RecordKind.COMMIT.value)) == 2
    assert unknown.returncode == 2
    assert f"(indexed: '{indexed.path}')" in unknown.stderr
    # Indexed from the tracker again, it starts from the beginning, not from the old file.
    assert json.loads(legacy.read_text()) == {indexed_key: "2024-05-02T00:00:00Z"}
    assert default_checkpoints(store, tmp_path / "data").get(forgotten_key) is None
