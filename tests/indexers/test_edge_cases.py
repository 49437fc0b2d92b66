"""Index runs over unusual repositories and unusual commits."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from headstart.errors import NotARepositoryError
from headstart.indexers.commits import SHALLOW_BOUNDARY_LABEL
from headstart.indexers.pipeline import index_repository
from headstart.records import FileChange, RecordKind
from headstart.store import Store


def commit_record(store: Store, repo: str, sha: str):
    record = store.get(repo, RecordKind.COMMIT.value, sha)
    assert record is not None, f"commit {sha} is not in the store"
    return record


def clone(source: Path, target: Path, *options: str) -> Path:
    subprocess.run(
        ["git", "clone", "-q", *options, f"file://{source}", str(target)],
        check=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull},
    )
    return target


def test_not_a_repository(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()

    with pytest.raises(NotARepositoryError, match="plain"):
        index_repository(store, folder)


def test_empty_repository(git_repo, store: Store) -> None:
    report = index_repository(store, git_repo.path)

    assert report.plan.head is None
    assert report.commits_written == 0
    assert store.records_table() is None
    assert store.repository_state(report.plan.repo) is None


def test_shallow_clone(git_repo, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    shas = [git_repo.commit(f"change {n}", {f"f{n}.txt": f"{n}\n"}) for n in range(6)]
    shallow = clone(git_repo.path, tmp_path / "shallow", "--depth", "3")

    with caplog.at_level(logging.WARNING, logger="headstart.indexers"):
        report = index_repository(store, shallow, workers=1)

    assert report.plan.shallow
    assert "shallow clone" in caplog.text
    repo = report.plan.repo
    assert set(store.keys(repo, RecordKind.COMMIT.value)) == set(shas[3:])
    boundary = commit_record(store, repo, shas[3])
    assert boundary.parents == [shas[2]]
    assert boundary.changes == []
    assert boundary.labels == [SHALLOW_BOUNDARY_LABEL]
    inside = commit_record(store, repo, shas[4])
    assert inside.changes == [FileChange(path="f4.txt", status="A", added=1, removed=0)]


def test_bare_clone(git_repo, store: Store, tmp_path: Path) -> None:
    shas = [git_repo.commit(f"change {n} (#{n + 1})", {"f.txt": f"{n}\n"}) for n in range(3)]
    bare = clone(git_repo.path, tmp_path / "bare.git", "--bare")

    report = index_repository(store, bare, workers=1)

    assert report.plan.path == str(bare.resolve())
    assert set(store.keys(report.plan.repo, RecordKind.COMMIT.value)) == set(shas)
    assert set(store.keys(report.plan.repo, RecordKind.PULL_REQUEST.value)) == {"#1", "#2", "#3"}
    assert store.head_files(report.plan.repo) == {"f.txt"}


def test_detached_head(git_repo, store: Store) -> None:
    shas = [git_repo.commit(f"change {n}", {"f.txt": f"{n}\n"}) for n in range(4)]
    git_repo.git("checkout", "-q", "--detach", shas[2])

    report = index_repository(store, git_repo.path, workers=1)

    assert report.plan.head == shas[2]
    assert set(store.keys(report.plan.repo, RecordKind.COMMIT.value)) == set(shas[:3])


def test_latin1_message(git_repo, store: Store) -> None:
    git_repo.write("f.txt", "x\n")
    git_repo.git("add", "f.txt")
    message = "Corrige l'accent de café\n\nRésumé: naïve façade".encode("latin-1")
    git_repo.git("-c", "i18n.commitEncoding=ISO-8859-1", "commit", "-q", "-F", "-", input=message)
    sha = git_repo.head()
    assert b"encoding ISO-8859-1" in subprocess.run(
        ["git", "cat-file", "commit", sha], cwd=git_repo.path, capture_output=True, check=True
    ).stdout

    report = index_repository(store, git_repo.path, workers=1)

    record = commit_record(store, report.plan.repo, sha)
    assert record.title == "Corrige l'accent de café"
    assert record.body == "Résumé: naïve façade"


def raw_commit(git_repo, header_extra: str, message: bytes) -> str:
    """Write a commit object by hand, so its bytes need not be valid in any encoding."""
    git_repo.write("f.txt", "content\n")
    git_repo.git("add", "f.txt")
    tree = git_repo.git("write-tree")
    header = (
        f"tree {tree}\nauthor Ada Lovelace <ada@example.com> 1700000000 +0000\n"
        f"committer Ada Lovelace <ada@example.com> 1700000000 +0000\n{header_extra}\n"
    ).encode()
    sha = git_repo.git("hash-object", "-t", "commit", "-w", "--stdin", "--literally", input=header + message)
    git_repo.git("update-ref", "refs/heads/main", sha)
    return sha


@pytest.mark.parametrize(
    ("header_extra", "message", "title", "body"),
    [
        ("", b"Broken \xff\xfe bytes\n\nbody \xc3\n", "Broken \ufffd\ufffd bytes", "body \ufffd"),
        ("encoding no-such-codec\n", b"caf\xe9\n", "caf\ufffd", ""),
        ("encoding UTF-8\n", b"ok \xe2\x82\xac \xe2\x82\n", "ok \u20ac \ufffd", ""),
    ],
)
def test_undecodable_message(git_repo, store: Store, header_extra: str, message: bytes, title: str, body: str) -> None:
    sha = raw_commit(git_repo, header_extra, message)

    report = index_repository(store, git_repo.path, workers=1)

    record = commit_record(store, report.plan.repo, sha)
    assert record.title == title
    assert record.body == body


def test_undecodable_path(git_repo, store: Store) -> None:
    name = b"caf\xe9.txt"
    with open(os.path.join(os.fsencode(git_repo.path), name), "wb") as handle:
        handle.write(b"x\n")
    git_repo.git("add", "-A")
    git_repo.git("commit", "-q", "-m", "latin-1 file name")
    sha = git_repo.head()

    report = index_repository(store, git_repo.path, workers=1)

    record = commit_record(store, report.plan.repo, sha)
    assert record.files == ["caf\ufffd.txt"]


def test_binary_and_huge_diffs(git_repo, store: Store) -> None:
    huge = "".join(f"generated line {n}\n" for n in range(200_000))
    sha = git_repo.commit(
        "Vendor data",
        {"data/blob.bin": bytes(range(256)) * 4096, "data/table.csv": huge},
    )

    report = index_repository(store, git_repo.path, workers=1)

    record = commit_record(store, report.plan.repo, sha)
    assert record.changes == [
        FileChange(path="data/blob.bin", status="A", added=None, removed=None, binary=True),
        FileChange(path="data/table.csv", status="A", added=200_000, removed=0),
    ]
    # Only the message and paths are embedded, never file contents.
    [row] = store.columns(report.plan.repo, ["key", "text"], kinds=["commit"]).to_pylist()
    assert row["text"] == "Vendor data\nFiles: data/blob.bin data/table.csv"


RENAMED = FileChange(path="new/name.py", status="R", added=1, removed=0, old_path="old/name.py")
ADDED = FileChange(path="new/name.py", status="A", added=21, removed=0)
DELETED = FileChange(path="old/name.py", status="D", added=0, removed=20)


@pytest.mark.parametrize(
    ("renames", "other_files", "expected"),
    [
        # A small commit gets rename detection whatever the option.
        (False, 0, [RENAMED]),
        (True, 0, [RENAMED]),
        # One adding and deleting more than 30 files gets it only with --renames.
        (False, 30, [ADDED, DELETED]),
        (True, 30, [RENAMED]),
    ],
)
def test_rename_detection(git_repo, store: Store, renames: bool, other_files: int, expected: list[FileChange]) -> None:
    content = "".join(f"line {n}\n" for n in range(20))
    git_repo.commit("add", {"old/name.py": content})
    others = {f"docs/page{number}.md": f"page {number}\n" for number in range(other_files)}
    sha = git_repo.commit("move", {"old/name.py": None, "new/name.py": content + "# moved\n", **others})

    report = index_repository(store, git_repo.path, renames=renames, workers=1)

    changes = commit_record(store, report.plan.repo, sha).changes
    assert [change for change in changes if "name.py" in change.path] == expected
    assert len(changes) == len(expected) + other_files


def test_mailmap(git_repo, store: Store) -> None:
    git_repo.commit(".mailmap", {".mailmap": "Ada King <ada@king.org> Ada Lovelace <ada@example.com>\n"})
    sha = git_repo.commit("work", {"x": "1\n"}, author="Ada Lovelace <ada@example.com>")

    report = index_repository(store, git_repo.path, workers=1)

    assert commit_record(store, report.plan.repo, sha).authors == ["Ada King <ada@king.org>"]


def test_untracked_build_output(git_repo, store: Store) -> None:
    git_repo.commit("source", {"src/app.py": "print()\n", ".gitignore": "ignored/\n"})
    for folder in ("build", "ignored"):
        for number in range(50):
            git_repo.write(f"{folder}/artifact{number}.o", "object code\n")

    plan = index_repository(store, git_repo.path, dry_run=True).plan
    index_repository(store, git_repo.path, workers=1)

    assert len(plan.new_commits) == 1
    assert store.head_files(plan.repo) == {"src/app.py", ".gitignore"}


@pytest.mark.parametrize("renames", [False, True])
def test_partial_clone_without_large_blobs(git_repo, store: Store, tmp_path: Path, renames: bool) -> None:
    big = "".join(f"line {n}\n" for n in range(400))
    first = git_repo.commit("Add the data", {"data.txt": big, "small.txt": "a\n"})
    second = git_repo.commit("Grow the data", {"data.txt": big + "more\n", "small.txt": "a\nb\n"})
    git_repo.git("config", "uploadpack.allowFilter", "true")
    partial = clone(git_repo.path, tmp_path / "partial.git", "--bare", "--filter=blob:limit=1k")

    report = index_repository(store, partial, workers=1, renames=renames)

    assert report.commits_written == 2
    assert report.unknown_line_counts == 2
    changes = commit_record(store, report.plan.repo, second).changes
    assert changes == [
        FileChange(path="data.txt", status="M", added=None, removed=None),
        FileChange(path="small.txt", status="M", added=1, removed=0),
    ]
    assert commit_record(store, report.plan.repo, first).files == ["data.txt", "small.txt"]
