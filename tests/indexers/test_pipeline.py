"""Index runs over real repositories: records, links, incremental runs, rewrites, interruptions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from headstart.indexers.freshness import check_freshness
from headstart.indexers.pipeline import index_repository, rebuild_stats
from headstart.records import FileChange, Link, LinkKind, RecordKind
from headstart.store import Store


def committed_at(git_repo, sha: str) -> datetime:
    return datetime.fromtimestamp(int(git_repo.git("show", "-s", "--format=%ct", sha)), tz=timezone.utc)


def all_rows(store: Store) -> list[dict]:
    table = store.records_table()
    return table.to_arrow().select(["id", "repo", "kind", "key", "title", "body", "text"]).to_pylist()


def build_history(git_repo) -> dict[str, str]:
    """Make a history with a squash, a merge, a fix trailer, a revert and a GitLab merge request."""
    shas: dict[str, str] = {}
    shas["root"] = git_repo.commit("Add the parser", {"parser.py": "def parse(text):\n    return text\n"})
    shas["squash"] = git_repo.commit(
        "Add retries to the client (#12)\n\nRetry on 503.\n\nCloses #4",
        {"client.py": "RETRIES = 3\n"},
    )
    git_repo.git("checkout", "-q", "-b", "empty-input")
    shas["feature"] = git_repo.commit(
        "Handle empty input", {"parser.py": "def parse(text):\n    return text or ''\n"}
    )
    git_repo.git("checkout", "-q", "main")
    git_repo.git(
        "merge", "-q", "--no-ff", "-m", "Merge pull request #15 from ada/empty-input\n\nHandle empty input\n\nFixes #8",
        "empty-input",
    )
    shas["merge"] = git_repo.head()
    shas["fix"] = git_repo.commit(
        f"Guard against None\n\nFixes: {shas['root'][:12]}", {"parser.py": "def parse(text):\n    return text or ''\n# None\n"}
    )
    git_repo.git("revert", "--no-edit", shas["fix"])
    shas["revert"] = git_repo.head()
    shas["gitlab"] = git_repo.commit("Add the exporter\n\nSee merge request group/project!21", {"export.py": "x = 1\n"})
    return shas


def test_records_and_links(git_repo, store: Store) -> None:
    shas = build_history(git_repo)

    report = index_repository(store, git_repo.path, workers=1)

    repo = report.plan.repo
    assert repo == git_repo.path.resolve().as_posix()
    assert report.commits_written == 7
    assert report.pull_requests_written == 3
    assert set(store.keys(repo, RecordKind.COMMIT.value)) == set(git_repo.git("rev-list", "--all").split())
    assert set(store.keys(repo, RecordKind.PULL_REQUEST.value)) == {"#12", "#15", "group/project!21"}

    squash = store.get(repo, RecordKind.PULL_REQUEST.value, "#12")
    assert squash is not None
    assert squash.number == 12
    assert squash.title == "Add retries to the client"
    assert squash.body == "Retry on 503.\n\nCloses #4"
    assert squash.files == ["client.py"]
    assert squash.changes == [FileChange(path="client.py", status="A", added=1, removed=0)]
    assert squash.created_at == committed_at(git_repo, shas["squash"])
    assert squash.labels == ["squash"]
    assert squash.links == [
        Link(kind=LinkKind.MERGED_AS, target=f"commit:{shas['squash']}"),
        Link(kind=LinkKind.FIXES, target="issue:#4"),
    ]

    merged = store.get(repo, RecordKind.PULL_REQUEST.value, "#15")
    assert merged is not None
    assert merged.title == "Handle empty input"
    assert merged.body == "Fixes #8"
    assert merged.files == ["parser.py"]
    assert merged.created_at == committed_at(git_repo, shas["merge"])
    assert merged.labels == ["merge"]
    assert merged.links == [
        Link(kind=LinkKind.MERGED_AS, target=f"commit:{shas['merge']}"),
        Link(kind=LinkKind.FIXES, target="issue:#8"),
    ]

    gitlab = store.get(repo, RecordKind.PULL_REQUEST.value, "group/project!21")
    assert gitlab is not None
    assert gitlab.title == "Add the exporter"
    assert gitlab.files == ["export.py"]

    merge_commit = store.get(repo, RecordKind.COMMIT.value, shas["merge"])
    assert merge_commit is not None
    assert merge_commit.parents == [shas["squash"], shas["feature"]]
    assert Link(kind=LinkKind.LANDS, target="pull_request:#15") in merge_commit.links
    assert Link(kind=LinkKind.FIXES, target="issue:#8") in merge_commit.links

    # A "Fixes: <short sha>" trailer is stored with the full sha, and seen from both ends.
    fix = store.get(repo, RecordKind.COMMIT.value, shas["fix"])
    root = store.get(repo, RecordKind.COMMIT.value, shas["root"])
    revert = store.get(repo, RecordKind.COMMIT.value, shas["revert"])
    assert fix is not None
    assert root is not None
    assert revert is not None
    assert fix.links == [
        Link(kind=LinkKind.FIXES_COMMIT, target=f"commit:{shas['root']}"),
        Link(kind=LinkKind.REVERTED_BY, target=f"commit:{shas['revert']}"),
    ]
    assert root.links == [Link(kind=LinkKind.FIX_OF_COMMIT_BY, target=f"commit:{shas['fix']}")]
    assert revert.links == [Link(kind=LinkKind.REVERTS, target=f"commit:{shas['fix']}")]
    assert revert.title == 'Revert "Guard against None"'


def test_incremental_run(git_repo, store: Store) -> None:
    build_history(git_repo)
    index_repository(store, git_repo.path, workers=1)
    before = {row["id"] for row in all_rows(store)}

    new = git_repo.commit("Speed up parsing (#30)", {"parser.py": "fast\n"})
    report = index_repository(store, git_repo.path, workers=1)

    assert report.plan.new_commits == [new]
    assert report.commits_written == 1
    assert report.pull_requests_written == 1
    after = {row["id"] for row in all_rows(store)}
    assert before < after
    assert len(after - before) == 2
    state = store.repository_state(report.plan.repo)
    assert state is not None
    assert state.head == new
    assert state.commits == 8
    assert state.pull_requests == 4


def test_rerun_changes_nothing(git_repo, store: Store) -> None:
    build_history(git_repo)
    index_repository(store, git_repo.path, workers=1)
    rows = all_rows(store)
    version = store.version()

    report = index_repository(store, git_repo.path, workers=1)

    assert report.commits_written == 0
    assert report.records_deleted == 0
    assert all_rows(store) == rows
    assert store.version() == version
    assert len({row["id"] for row in rows}) == len(rows)


def test_identifiers_follow_the_head(git_repo, store: Store) -> None:
    shas = build_history(git_repo)

    report = index_repository(store, git_repo.path, until=shas["squash"], workers=1)
    repo = report.plan.repo
    at_squash = store.identifiers.load(repo)
    index_repository(store, git_repo.path, workers=1)
    at_head = store.identifiers.load(repo)

    assert at_squash == {"parser.py": ["def", "parse", "text", "return"], "client.py": ["RETRIES"]}
    assert at_head is not None
    assert at_head["export.py"] == []
    assert "client.py" in at_head


def test_identifiers_added_to_an_older_store(git_repo, store: Store) -> None:
    build_history(git_repo)
    report = index_repository(store, git_repo.path, workers=1)
    store.identifiers.delete(report.plan.repo)
    assert not store.identifiers.saved(report.plan.repo)

    again = index_repository(store, git_repo.path, workers=1)

    assert again.commits_written == 0
    assert store.identifiers.saved(report.plan.repo)


def test_reset_and_new_commit(git_repo, store: Store) -> None:
    build_history(git_repo)
    dropped = git_repo.commit("Experimental exporter (#40)", {"experiment.py": "x\n"})
    report = index_repository(store, git_repo.path, workers=1)
    repo = report.plan.repo

    git_repo.git("reset", "-q", "--hard", "HEAD~1")
    replacement = git_repo.commit("Stable exporter (#41)", {"stable.py": "y\n"})
    _, freshness = check_freshness(store, git_repo.path)
    report = index_repository(store, git_repo.path, workers=1)

    assert freshness.stale
    assert freshness.rewritten
    assert report.plan.stale_commits == [dropped]
    assert report.plan.new_commits == [replacement]
    assert report.records_deleted == 2
    assert dropped not in store.keys(repo, RecordKind.COMMIT.value)
    assert replacement in store.keys(repo, RecordKind.COMMIT.value)
    assert "#40" not in store.keys(repo, RecordKind.PULL_REQUEST.value)
    assert "#41" in store.keys(repo, RecordKind.PULL_REQUEST.value)
    assert set(store.keys(repo, RecordKind.COMMIT.value)) == set(git_repo.git("rev-list", "HEAD").split())
    assert not check_freshness(store, git_repo.path)[1].stale


def test_amended_commit(git_repo, store: Store) -> None:
    git_repo.commit("base", {"a": "1\n"})
    original = git_repo.commit("Fix typo (#3)", {"b": "2\n"})
    report = index_repository(store, git_repo.path, workers=1)
    repo = report.plan.repo

    git_repo.git("commit", "-q", "--amend", "-m", "Fix the typo in the README (#3)")
    amended = git_repo.head()
    report = index_repository(store, git_repo.path, workers=1)

    assert report.plan.stale_commits == [original]
    assert report.plan.new_commits == [amended]
    assert set(store.keys(repo, RecordKind.COMMIT.value)) == set(git_repo.git("rev-list", "HEAD").split())
    pull_request = store.get(repo, RecordKind.PULL_REQUEST.value, "#3")
    assert pull_request is not None
    assert pull_request.title == "Fix the typo in the README"
    assert pull_request.links[0] == Link(kind=LinkKind.MERGED_AS, target=f"commit:{amended}")
    assert len([row for row in all_rows(store) if row["key"] == "#3"]) == 1


def test_until_revision(git_repo, store: Store) -> None:
    shas = build_history(git_repo)

    report = index_repository(store, git_repo.path, until=shas["merge"], workers=1)

    repo = report.plan.repo
    expected = set(git_repo.git("rev-list", shas["merge"]).split())
    assert set(store.keys(repo, RecordKind.COMMIT.value)) == expected
    assert set(store.keys(repo, RecordKind.PULL_REQUEST.value)) == {"#12", "#15"}
    state = store.repository_state(repo)
    assert state is not None
    assert state.head == shas["merge"]
    assert state.revision == shas["merge"]

    report = index_repository(store, git_repo.path, workers=1)

    assert set(report.plan.new_commits) == {shas["fix"], shas["revert"], shas["gitlab"]}
    assert set(store.keys(repo, RecordKind.COMMIT.value)) == set(git_repo.git("rev-list", "HEAD").split())


def test_interrupted_run_resumes(git_repo, store: Store) -> None:
    for number in range(30):
        git_repo.commit(f"Change {number} (#{number + 100})", {f"f{number % 4}.txt": f"{number}\n"})
    calls: list[tuple[int, int]] = []

    def stop_after_two_batches(done: int, total: int) -> None:
        calls.append((done, total))
        if done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index_repository(store, git_repo.path, workers=1, batch_size=5, on_progress=stop_after_two_batches)

    assert calls == [(0, 30), (5, 30), (10, 30)]
    rows = all_rows(store)
    assert Counter(row["kind"] for row in rows) == {"commit": 10, "pull_request": 10}

    report = index_repository(store, git_repo.path, workers=1, batch_size=5)

    assert report.commits_written == 20
    rows = all_rows(store)
    assert len({row["id"] for row in rows}) == len(rows)
    assert Counter(row["kind"] for row in rows) == {"commit": 30, "pull_request": 30}
    # The full-text index covers the rows written before the interruption too.
    hits = store.search("Change 3", repo=report.plan.repo, kinds=["commit"], limit=3)
    assert hits[0].record.title == "Change 3 (#103)"


def fast_import_history(path: Path, count: int) -> None:
    """Create `count` commits quickly with `git fast-import`, each changing one of 50 files."""
    lines: list[str] = []
    for number in range(count):
        content = f"value {number}\n"
        message = f"Generated change {number}\n"
        lines += [
            "commit refs/heads/main",
            f"committer Ada Lovelace <ada@example.com> {1_700_000_000 + number * 60} +0000",
            f"data {len(message)}",
            message.rstrip("\n"),
        ]
        lines += [f"M 100644 inline file{number % 50}.txt", f"data {len(content)}", content]
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=path, input="\n".join(lines).encode(), check=True
    )
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=path, check=True)


def child_pids(parent: int) -> list[int]:
    """Process ids whose parent is `parent`, read from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return children


def is_running(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads worker processes from /proc")
def test_killed_subprocess_resumes(git_repo, store: Store, tmp_path: Path) -> None:
    fast_import_history(git_repo.path, 1500)
    command = [sys.executable, "-c", "from headstart.cli import main; main()"]
    arguments = ["index", str(git_repo.path), "--db", store.uri, "--batch-size", "50", "--workers", "2"]
    environment = {**os.environ, "HEADSTART_CONFIG": os.devnull}
    process = subprocess.Popen(
        [*command, *arguments], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )

    # Kill the run once some batches are stored and before it is done.
    written = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        table = store.records_table()
        written = table.count_rows() if table is not None else 0
        if written >= 100:
            break
        time.sleep(0.1)
    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
    workers = child_pids(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # The diff workers notice their parent is gone and end, rather than live on as orphans.
    assert workers
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(map(is_running, workers)):
        time.sleep(0.2)
    assert not [pid for pid in workers if is_running(pid)]
    interrupted = len(store.keys(git_repo.path.resolve().as_posix(), "commit"))
    assert 0 < interrupted < 1500

    report = index_repository(store, git_repo.path, batch_size=200)

    rows = all_rows(store)
    assert report.commits_written == 1500 - interrupted
    assert len(rows) == 1500
    assert len({row["id"] for row in rows}) == 1500
    assert set(store.keys(report.plan.repo, "commit")) == set(git_repo.git("rev-list", "HEAD").split())


def test_stale_after_checkout(git_repo, store: Store) -> None:
    shas = [git_repo.commit(f"change {n}", {"f.txt": f"{n}\n"}) for n in range(4)]
    index_repository(store, git_repo.path, workers=1)

    git_repo.git("checkout", "-q", "-b", "old", shas[1])
    _, moved_back = check_freshness(store, git_repo.path)
    branch = git_repo.commit("branch work", {"g.txt": "g\n"})
    _, diverged = check_freshness(store, git_repo.path)
    report = index_repository(store, git_repo.path, workers=1)

    assert moved_back.stale
    assert moved_back.rewritten
    assert moved_back.message is not None
    assert f"HEAD moved back to {shas[1][:10]}, 2 commits before" in moved_back.message
    assert diverged.stale
    assert diverged.message is not None
    assert diverged.message.startswith("history was rewritten")
    assert report.plan.new_commits == [branch]
    assert sorted(report.plan.stale_commits) == sorted(shas[2:])
    assert set(store.keys(report.plan.repo, "commit")) == {shas[0], shas[1], branch}
    assert not check_freshness(store, git_repo.path)[1].stale


def test_force_push_reconciled(git_repo, store: Store, tmp_path: Path) -> None:
    for number in range(3):
        git_repo.commit(f"change {number}", {"f.txt": f"{number}\n"})
    local = tmp_path / "local"
    subprocess.run(["git", "clone", "-q", str(git_repo.path), str(local)], check=True)
    index_repository(store, local, workers=1)

    # Upstream rewrites its last commit; the clone follows with fetch and reset, as after a force-push.
    git_repo.git("commit", "-q", "--amend", "-m", "change 2, reworded")
    rewritten = git_repo.head()
    subprocess.run(["git", "fetch", "-q", "-f", "origin"], cwd=local, check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "origin/main"], cwd=local, check=True)
    _, freshness = check_freshness(store, local)
    report = index_repository(store, local, workers=1)

    assert freshness.stale
    assert freshness.rewritten
    assert report.plan.new_commits == [rewritten]
    assert len(report.plan.stale_commits) == 1
    assert report.commits_written == 1
    assert set(store.keys(report.plan.repo, "commit")) == set(git_repo.git("rev-list", "HEAD").split())


def test_fix_counts_read_the_commit_body(git_repo, store: Store) -> None:
    git_repo.commit("Add the parser", {"parser.py": "a\n", "export.py": "b\n"})
    closes = git_repo.commit("Reports as CSV\n\nCloses #7", {"export.py": "b\nc\n"})
    fixes = git_repo.commit("Handle empty rows\n\nFixes #12", {"parser.py": "a\nd\n"})

    report = index_repository(store, git_repo.path, workers=1)
    repo = report.plan.repo
    in_step = {stats.path: stats.fix_shas for stats in store.stats.file_stats(repo, ["parser.py", "export.py"])}
    rebuild_stats(store, repo, max_files_per_commit=30)
    rebuilt = {stats.path: stats.fix_shas for stats in store.stats.file_stats(repo, ["parser.py", "export.py"])}

    # "Closes #7" closes a feature request and "Fixes #12" fixes a bug, as in the brief's fixes section.
    assert in_step == {"parser.py": [fixes], "export.py": []}
    assert rebuilt == in_step
    assert closes not in in_step["export.py"]
