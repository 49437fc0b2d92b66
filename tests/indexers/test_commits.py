"""Commit records built from real repositories: fields, file changes, authors."""

from __future__ import annotations

from datetime import datetime, timezone

import pygit2

from headstart.indexers.walk import read_commits
from headstart.records import FileChange, Link, LinkKind, RecordKind, record_id

REPO = "test/repo"


def read(git_repo, *shas: str, renames: bool = False):
    repo = pygit2.Repository(str(git_repo.path))
    return list(read_commits(repo, list(shas), REPO, renames=renames, workers=1))


def committed_at(git_repo, sha: str) -> datetime:
    return datetime.fromtimestamp(int(git_repo.git("show", "-s", "--format=%ct", sha)), tz=timezone.utc)


def test_root_commit_record(git_repo) -> None:
    sha = git_repo.commit("Add the parser\n\nFirst cut.\nFixes #3", {"src/parser.py": "a\nb\nc\n", "README": "hi\n"})

    [record] = read(git_repo, sha)

    assert record.id == record_id(REPO, RecordKind.COMMIT, sha)
    assert record.kind == RecordKind.COMMIT
    assert record.key == sha
    assert record.repo == REPO
    assert record.title == "Add the parser"
    assert record.body == "First cut.\nFixes #3"
    assert record.parents == []
    assert record.authors == ["Ada Lovelace <ada@example.com>"]
    assert record.created_at == committed_at(git_repo, sha)
    assert record.links == [Link(kind=LinkKind.FIXES, target="issue:#3")]
    assert record.files == ["README", "src/parser.py"]
    assert record.changes == [
        FileChange(path="README", status="A", added=1, removed=0),
        FileChange(path="src/parser.py", status="A", added=3, removed=0),
    ]


def test_modify_and_delete(git_repo) -> None:
    first = git_repo.commit("one", {"a.txt": "1\n2\n3\n4\n", "b.txt": "x\n"})
    second = git_repo.commit("two", {"a.txt": "1\nTWO\n3\n4\n5\n", "b.txt": None})

    [record] = read(git_repo, second)

    assert record.parents == [first]
    assert record.changes == [
        FileChange(path="a.txt", status="M", added=2, removed=1),
        FileChange(path="b.txt", status="D", added=0, removed=1),
    ]


def test_counts_match_git_numstat(git_repo) -> None:
    git_repo.commit("base", {"f.py": "".join(f"line {n}\n" for n in range(200))})
    changed = "".join(f"line {n}\n" if n % 7 else f"changed {n}\n" for n in range(220))
    sha = git_repo.commit("edit", {"f.py": changed, "g.py": "new\n"})

    [record] = read(git_repo, sha)

    numstat = git_repo.git("show", "--numstat", "--format=", sha).splitlines()
    expected = {}
    for line in numstat:
        added, removed, path = line.split("\t")
        expected[path] = (int(added), int(removed))
    assert {change.path: (change.added, change.removed) for change in record.changes} == expected


def test_merge_diffs_first_parent(git_repo) -> None:
    git_repo.commit("base", {"core.py": "x\n"})
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.commit("feature work", {"feature.py": "f\nf\n"})
    git_repo.git("checkout", "-q", "main")
    main_tip = git_repo.commit("main work", {"core.py": "x\ny\n"})
    git_repo.git("merge", "-q", "--no-ff", "-m", "Merge pull request #9 from ada/feature\n\nAdd the feature", "feature")
    merge = git_repo.head()
    feature_tip = git_repo.git("rev-parse", "feature")

    [record] = read(git_repo, merge)

    assert record.parents == [main_tip, feature_tip]
    assert record.changes == [FileChange(path="feature.py", status="A", added=2, removed=0)]


def test_binary_file_has_no_line_counts(git_repo) -> None:
    sha = git_repo.commit("logo", {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00" + bytes(range(256)) * 4})

    [record] = read(git_repo, sha)

    assert record.changes == [FileChange(path="logo.png", status="A", added=None, removed=None, binary=True)]


def test_mailmap_applies_to_authors(git_repo) -> None:
    git_repo.commit(
        ".mailmap",
        {".mailmap": "Ada King <ada@king.org> <ada@example.com>\nGrace Hopper <grace@navy.mil> <gh@old.example>\n"},
    )
    sha = git_repo.commit(
        "pair work\n\nCo-authored-by: G. Hopper <gh@old.example>\nCo-authored-by: Alan <alan@example.com>",
        {"x": "1\n"},
    )

    [record] = read(git_repo, sha)

    assert record.authors == [
        "Ada King <ada@king.org>",
        "Grace Hopper <grace@navy.mil>",
        "Alan <alan@example.com>",
    ]


def test_author_with_empty_email(git_repo) -> None:
    git_repo.commit(".mailmap", {".mailmap": "Ada King <ada@king.org> <ada@example.com>\n"})
    tree = git_repo.git("write-tree")
    parent = git_repo.head()
    raw = (
        f"tree {tree}\nparent {parent}\nauthor Nobody <> 1700000000 +0000\n"
        "committer Nobody <> 1700000000 +0000\n\nimported from svn\n"
    ).encode()
    sha = git_repo.git("hash-object", "-t", "commit", "-w", "--stdin", "--literally", input=raw)

    [record] = read(git_repo, sha)

    assert record.authors == ["Nobody <>"]
    assert record.title == "imported from svn"


def test_parallel_matches_serial(git_repo) -> None:
    shas = [git_repo.commit(f"change {n}", {f"dir{n % 3}/f{n}.txt": f"{n}\n" * (n % 5 + 1)}) for n in range(12)]
    repo = pygit2.Repository(str(git_repo.path))

    serial = list(read_commits(repo, shas, REPO, workers=1))
    parallel = list(read_commits(repo, shas * 40, REPO, workers=2))

    assert [record.key for record in parallel] == shas * 40
    assert parallel[: len(shas)] == serial


def test_test_functions_named(git_repo) -> None:
    git_repo.commit("Add tests", {"tests/test_cache.py": "def test_hit():\n    assert 1\n", "cache.py": "def test_not_a_test(): pass\n"})
    sha = git_repo.commit(
        "Fix stale entries\n\nfixes #412",
        {"tests/test_cache.py": "def test_hit():\n    assert 2\n\n\ndef test_cache_invalidation():\n    assert 1\n"},
    )

    (record,) = read(git_repo, sha)

    assert record.changes[0].path == "tests/test_cache.py"
    assert record.changes[0].functions == ["test_hit", "test_cache_invalidation"]
    (first,) = read(git_repo, git_repo.git("rev-parse", "HEAD~1"))
    assert {change.path: change.functions for change in first.changes} == {"cache.py": [], "tests/test_cache.py": ["test_hit"]}
