"""Several processes writing one store at once: no record twice, none lost, no broken read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from headstart.records import Record, RecordKind, record_id
from headstart.store import Embedder, Store
from headstart.store.schema import RECORDS_TABLE, records_schema
from headstart.store.tables import has_primary_key

pytestmark = pytest.mark.slow

REPO = "example.com/acme/race"
BATCH = 25
BATCHES = 8

# Each writer upserts the same ids, batch by batch, so their inserts of new keys collide.
# The embedder is never loaded: the vectors are given, and the table exists already.
WRITER = """
import json, sys, time
from datetime import datetime, timezone
from pathlib import Path
import numpy as np
from headstart.records import Record, RecordKind, record_id
from headstart.store import Embedder, Store

uri, options, worker, go, batch, batches, repo = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], Path(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
store = Store(uri, Embedder("all-MiniLM-L6-v2"), storage_options=options)
rng = np.random.default_rng(int(worker))
store.records_table(create=True)
(go.parent / f"ready-{worker}").touch()
while not go.exists():
    time.sleep(0.01)
for number in range(batches):
    records = [
        Record(
            id=record_id(repo, RecordKind.COMMIT, f"{number}-{item}"),
            repo=repo,
            kind=RecordKind.COMMIT,
            key=f"{number}-{item}",
            title=f"change {number}-{item} written by worker {worker}",
            created_at=datetime(2024, 1, 1, tzinfo=timezone.utc),
        )
        for item in range(batch)
    ]
    vectors = rng.normal(size=(batch, 384)).astype(np.float32)
    store.upsert(records, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
"""


def start_writers(
    uri: str, options: dict[str, str], go: Path, count: int
) -> list[subprocess.Popen[str]]:
    environ = {**os.environ, "HEADSTART_CONFIG": os.devnull}
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                uri,
                json.dumps(options),
                str(worker),
                str(go),
                str(BATCH),
                str(BATCHES),
                REPO,
            ],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(count)
    ]


def run_race(store: Store, options: dict[str, str], tmp_path: Path, writers: int = 3) -> list[int]:
    """Race `writers` processes over the same ids while reading; return the row counts seen."""
    store.records_table(create=True)
    go = tmp_path / "go"
    processes = start_writers(store.uri, options, go, writers)
    # Released together once all have started, so that their writes overlap.
    while not all((tmp_path / f"ready-{worker}").exists() for worker in range(writers)):
        assert all(process.poll() is None for process in processes), processes[0].communicate()
        time.sleep(0.02)
    go.touch()

    seen = []
    while any(process.poll() is None for process in processes):
        ids = store.columns(REPO, ["id"]).column("id").to_pylist()
        # A reader sees whole commits of other writers: whole batches, each id once.
        assert len(ids) == len(set(ids)), "a reader saw an id twice"
        assert len(ids) % BATCH == 0, f"a reader saw {len(ids)} rows, part of a batch"
        seen.append(len(ids))
        time.sleep(0.05)

    for process in processes:
        _, stderr = process.communicate()
        assert process.returncode == 0, stderr
    return seen


def expected_ids() -> set[str]:
    return {
        record_id(REPO, RecordKind.COMMIT, f"{number}-{item}")
        for number in range(BATCHES)
        for item in range(BATCH)
    }


def test_concurrent_upserts_on_s3(tmp_path: Path, embedder: Embedder, bucket) -> None:
    store = bucket.store(embedder)

    run_race(store, bucket.options, tmp_path)

    ids = store.columns(REPO, ["id"]).column("id").to_pylist()
    assert sorted(ids) == sorted(expected_ids())


def test_old_store_gets_its_primary_key(tmp_path: Path, embedder: Embedder) -> None:
    # A records table as Headstart made it before: `id` nullable and no primary key.
    import lancedb

    schema = records_schema(embedder.model_name, embedder.dimension)
    old_schema = schema.set(0, schema.field("id").with_nullable(True))
    db = lancedb.connect(str(tmp_path / "store"))
    old = db.create_table(RECORDS_TABLE, schema=old_schema)
    row = {name: None for name in old_schema.names} | {
        "id": "old-1",
        "repo": REPO,
        "kind": "commit",
        "key": "old",
        "title": "kept across the upgrade",
        "created_at": datetime(2024, 1, 1, tzinfo=UTC),
        "vector": np.ones(embedder.dimension, dtype=np.float32) / np.sqrt(embedder.dimension),
    }
    old.add(pa.Table.from_pylist([row], schema=old_schema))
    assert not has_primary_key(old.schema, "id")

    store = Store(str(tmp_path / "store"), embedder)
    assert store.records_table() is not None
    assert not has_primary_key(store.records_table().schema, "id"), "a reader changed the table"
    record = Record(
        id=record_id(REPO, RecordKind.COMMIT, "new"),
        repo=REPO,
        kind=RecordKind.COMMIT,
        key="new",
        title="written after the upgrade",
        created_at=datetime(2024, 2, 1, tzinfo=UTC),
    )
    store.embed_and_upsert([record])

    table = store.records_table()
    assert has_primary_key(table.schema, "id")
    assert not table.schema.field("id").nullable
    assert sorted(store.columns(REPO, ["id"]).column("id").to_pylist()) == sorted(
        ["old-1", record.id]
    )


def test_two_index_jobs_share_one_store(
    git_repo, tmp_path: Path, embedder: Embedder, bucket
) -> None:
    # Two scheduled `index --all` jobs, listing the same two repositories in opposite order.
    repositories = []
    for name, commits in (("alpha", 6), ("beta", 5)):
        (tmp_path / name).mkdir()
        repo = type(git_repo)(tmp_path / name)
        repo.git("init", "-q", "-b", "main")
        for number in range(commits):
            repo.commit(
                f"{name}: change {number} (#{number + 1})",
                {"shared.py": f"{name} {number}\n", f"{name}.py": f"{number}\n"},
            )
        repositories.append(repo.path)
    configs = []
    for number, order in enumerate((repositories, repositories[::-1])):
        config = tmp_path / f"job-{number}.toml"
        config.write_text(
            "".join(
                f'[[repositories]]\npath = "{path}"\nbug_labels = ["bug"]\n\n' for path in order
            )
        )
        configs.append(config)

    environ = {
        **os.environ,
        **bucket.environ,
        "HEADSTART_DB": bucket.uri,
        "HEADSTART_DATA_DIR": str(tmp_path / "data"),
    }
    jobs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from headstart.cli import main; main()",
                "index",
                "--all",
                "--batch-size",
                "2",
            ],
            env={**environ, "HEADSTART_CONFIG": str(config)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for config in configs
    ]
    outputs = [job.communicate(timeout=300) for job in jobs]

    for job, (stdout, stderr) in zip(jobs, outputs, strict=True):
        # A repository the other job is indexing is reported busy, which is not a failure.
        assert job.returncode == 0, stdout + stderr
        assert "0 failed." in stdout
    store = bucket.store(embedder)
    states = store.repository_states()
    assert sorted(state.path for state in states) == sorted(str(path) for path in repositories)
    for state, commits in ((state, 6 if state.path.endswith("alpha") else 5) for state in states):
        rows = store.columns(state.repo, ["id", "kind"]).to_pylist()
        assert len(rows) == len({row["id"] for row in rows}), (
            f"{state.repo}: a record is stored twice"
        )
        assert sum(row["kind"] == RecordKind.COMMIT.value for row in rows) == commits
        assert sum(row["kind"] == RecordKind.PULL_REQUEST.value for row in rows) == commits
        # Counted once per commit, not once per job.
        [shared] = store.stats.file_stats(state.repo, ["shared.py"])
        assert shared.commits == commits
        assert state.commits == commits
