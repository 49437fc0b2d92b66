"""The LanceDB store: failing writes, awkward values in filters, search, model checks."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import pytest

from headstart.errors import StoreError
from headstart.indexers.pipeline import index_repository
from headstart.records import Link, LinkKind, Record, RecordKind, record_id
from headstart.store import Embedder, Store, filters

AWKWARD = "C:\\Users\\o'neil\\\"quoted\" repo"


def make_record(repo: str, key: str, title: str, links: list[Link] | None = None) -> Record:
    return Record(
        id=record_id(repo, RecordKind.COMMIT, key),
        repo=repo,
        kind=RecordKind.COMMIT,
        key=key,
        title=title,
        files=["src\\win\\path.py".replace("\\", "/")],
        created_at=datetime(2024, 5, 1, tzinfo=timezone.utc),
        links=links or [],
    )


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("o'neil", "'o''neil'"),
        ("C:\\dir\\file", "'C:\\dir\\file'"),
        ('say "hi"', "'say \"hi\"'"),
        ("'';--", "''''';--'"),
    ],
)
def test_quote(value: str, literal: str) -> None:
    assert filters.quote(value) == literal


def chattr(flag: str, path: Path) -> bool:
    result = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False)
    return result.returncode == 0


def test_failing_write_stops_run(git_repo, store: Store) -> None:
    for number in range(6):
        git_repo.commit(f"change {number}", {"f.txt": f"{number}\n"})
    data_dir = Path(store.uri) / "records.lance" / "data"

    def freeze_after_first_batch(done: int, total: int) -> None:
        # An immutable folder refuses new files even to root, like a full or read-only disk.
        if done == 3 and not chattr("+i", data_dir):
            pytest.skip("chattr +i is not available here (needs root on ext4 or xfs)")

    try:
        with pytest.raises(StoreError) as raised:
            index_repository(store, git_repo.path, workers=1, batch_size=3, on_progress=freeze_after_first_batch)
    finally:
        chattr("-i", data_dir)

    message = str(raised.value)
    assert store.uri in message
    assert "LanceError(IO)" in message
    assert "Operation not permitted" in message
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert len(store.keys(git_repo.path.resolve().as_posix(), "commit")) == 3


def test_write_error_passed_on(store: Store) -> None:
    store.upsert([make_record("r", "a", "first")], store.embedder.encode(["first"]))
    table = store.records_table()
    failure = RuntimeError("lance error: Resource exhausted: disk quota exceeded")

    with mock.patch.object(table, "merge_insert", side_effect=failure), pytest.raises(StoreError) as raised:
        store.upsert([make_record("r", "b", "second")], store.embedder.encode(["second"]))

    assert "disk quota exceeded" in str(raised.value)
    assert raised.value.__cause__ is failure
    assert store.keys("r", "commit") == {"a": record_id("r", RecordKind.COMMIT, "a")}


def test_awkward_repository_name(store: Store) -> None:
    target = make_record(AWKWARD, "a" * 40, "Add the 'quoted' \\ parser")
    fixer = make_record(AWKWARD, "b" * 40, "Fix it", [Link(kind=LinkKind.FIXES_COMMIT, target=target.target)])
    other = make_record("other", "a" * 40, "Add the 'quoted' \\ parser")
    records = [target, fixer, other]
    store.upsert(records, store.embedder.encode([record.title for record in records]))
    store.refresh_indexes()

    assert set(store.keys(AWKWARD, "commit")) == {"a" * 40, "b" * 40}
    fetched = store.get(AWKWARD, "commit", "a" * 40)
    assert fetched is not None
    assert fetched.files == ["src/win/path.py"]
    assert fetched.links == [Link(kind=LinkKind.FIX_OF_COMMIT_BY, target=f"commit:{'b' * 40}")]
    hits = store.search("quoted \\ parser 'x' \"y\"", repo=AWKWARD)
    assert {hit.record.repo for hit in hits} == {AWKWARD}
    store.delete(AWKWARD, [target.id])
    assert set(store.keys(AWKWARD, "commit")) == {"b" * 40}
    assert set(store.keys("other", "commit")) == {"a" * 40}


def test_repository_path_with_quotes(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "it's a \"repo\" \\ here"
    folder.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(folder)], check=True)
    (folder / "dir").mkdir()
    (folder / "dir" / "weird 'name' \\ file.txt").write_text("x\n")
    subprocess.run(["git", "add", "-A"], cwd=folder, check=True)
    subprocess.run(
        ["git", "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q", "-m", "Add (#1)"],
        cwd=folder,
        check=True,
    )

    report = index_repository(store, folder, workers=1)
    again = index_repository(store, folder, workers=1)

    repo = report.plan.repo
    assert "'" in repo
    assert "\\" in repo
    assert report.commits_written == 1
    assert again.commits_written == 0
    # Backslashes in paths are stored as forward slashes.
    assert store.head_files(repo) == {"dir/weird 'name' / file.txt"}
    assert store.repository_state(repo) is not None
    assert set(store.keys(repo, "pull_request")) == {"#1"}


def test_upsert_keeps_one_row_per_id(store: Store) -> None:
    first = make_record("r", "a", "first title")
    second = make_record("r", "a", "second title")

    store.upsert([first, second], store.embedder.encode(["first", "second"]))
    store.upsert([first], store.embedder.encode(["first"]))

    rows = store.records_table().to_arrow().to_pylist()
    assert [row["title"] for row in rows] == ["first title"]


def test_hybrid_search(git_repo, store: Store) -> None:
    git_repo.commit("Retry HTTP requests on 503 responses", {"client.py": "x\n"})
    git_repo.commit("Render the dashboard with dark colours", {"ui.css": "y\n"})
    git_repo.commit("Parse ISO 8601 dates in the importer (#7)", {"dates.py": "z\n"})
    report = index_repository(store, git_repo.path, workers=1)
    repo = report.plan.repo

    hits = store.search("retrying failed http calls", repo=repo, limit=3)
    assert hits[0].record.title == "Retry HTTP requests on 503 responses"

    hits = store.search("ISO 8601 dates", repo=repo, kinds=["pull_request"])
    assert [hit.record.key for hit in hits] == ["#7"]

    assert store.search("dark colours", repo="another/repo") == []


def test_model_mismatch(store: Store, embedder: Embedder) -> None:
    store.upsert([make_record("r", "a", "first")], embedder.encode(["first"]))

    other = Store(store.uri, Embedder("sentence-transformers/paraphrase-MiniLM-L3-v2"))
    with pytest.raises(StoreError) as raised:
        other.keys("r", "commit")

    message = str(raised.value)
    assert "'all-MiniLM-L6-v2'" in message
    assert "'sentence-transformers/paraphrase-MiniLM-L3-v2'" in message
    assert "--model 'all-MiniLM-L6-v2'" in message
    assert "--db" in message


def test_model_alias_is_same_model(store: Store, embedder: Embedder) -> None:
    store.upsert([make_record("r", "a", "first")], embedder.encode(["first"]))

    alias = Store(store.uri, Embedder("sentence-transformers/all-MiniLM-L6-v2"))

    assert set(alias.keys("r", "commit")) == {"a"}
