"""The store on S3 (moto on loopback): index, brief and search end to end, and a killed index job."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from typer.testing import CliRunner

from headstart.cli.app import _register, app
from headstart.config import Settings, object_store_options
from headstart.indexers.pipeline import index_repository
from headstart.records import RecordKind
from headstart.service import Headstart, open_store
from headstart.store import Embedder, Store

pytestmark = pytest.mark.slow


def make_history(git_repo) -> None:
    git_repo.commit(
        "Add upload client",
        {
            "client/upload.py": "def send(): pass\n",
            "tests/test_upload.py": "def test_send(): pass\n",
        },
    )
    git_repo.commit("Add invoice totals", {"billing/invoice.py": "def total(): return 0\n"})
    git_repo.commit(
        "Fix upload retry when the connection drops (#7)\n\nfixes #6",
        {
            "client/upload.py": "def send(): retry()\n",
            "tests/test_upload.py": "def test_send(): assert retry\n",
        },
    )
    git_repo.commit(
        "Round invoice totals", {"billing/invoice.py": "def total(): return round(0)\n"}
    )
    git_repo.commit("Log upload failures", {"client/upload.py": "def send(): log(); retry()\n"})


def test_storage_options_from_environment_and_config() -> None:
    environ = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_ALLOW_HTTP": "true",
    }

    options = object_store_options(
        "s3://bucket/headstart", {"AWS_REGION": "eu-central-1", "timeout": "60s"}, environ
    )

    assert options == {
        "aws_endpoint": "http://127.0.0.1:9000",
        "aws_access_key_id": "key",
        "aws_secret_access_key": "secret",
        "allow_http": "true",
        "aws_region": "eu-central-1",
        "timeout": "60s",
    }
    assert object_store_options("/srv/headstart/store", {"timeout": "60s"}, environ) == {}
    assert object_store_options("file:///srv/store", {}, environ) == {}


def test_open_store_passes_storage_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    settings = Settings(
        data_dir=tmp_path / "data",
        db="s3://bucket/headstart",
        storage_options={"aws_region": "auto"},
    )

    with mock.patch("headstart.service.Store") as store:
        open_store(settings)

    assert store.call_args.args[0] == "s3://bucket/headstart"
    assert store.call_args.kwargs["storage_options"]["aws_endpoint"] == "http://127.0.0.1:9000"
    assert store.call_args.kwargs["storage_options"]["aws_region"] == "auto"
    assert not (tmp_path / "data").exists()


def test_index_brief_and_search_on_s3(
    git_repo, bucket, embedder: Embedder, tmp_path: Path, monkeypatch
) -> None:
    make_history(git_repo)
    indexer_data = tmp_path / "indexer-data"
    for name, value in {
        **bucket.environ,
        "HEADSTART_DB": bucket.uri,
        "HEADSTART_DATA_DIR": str(indexer_data),
    }.items():
        monkeypatch.setenv(name, value)
    _register()

    result = CliRunner().invoke(app, ["index", str(git_repo.path)])

    assert result.exit_code == 0, result.output
    assert "indexed 5 new commits and 1 pull request in" in result.stdout
    assert not indexer_data.exists(), "the index job wrote to its local disk"

    # A replica: the store's settings from the environment, no checkout, an empty local disk.
    shutil.rmtree(git_repo.path)
    monkeypatch.delenv("HEADSTART_DB")
    replica_data = tmp_path / "replica-data"
    settings = Settings(data_dir=replica_data, db=bucket.uri)
    service = Headstart(
        settings, store=Store(settings.store_uri, embedder, storage_options=settings.store_options)
    )
    [state] = service.store.repository_states()

    brief = service.brief("upload retry fails when the connection drops", repo=state.repo)
    page = service.search("upload retry", repo=state.repo)

    assert brief.likely_files[0].path == "client/upload.py"
    assert any(change.kind == "pull_request" and change.number == 7 for change in brief.related)
    assert page.items[0].title.startswith("Fix upload retry")
    assert not replica_data.exists(), "the replica wrote to its local disk"


# An index job that stops for good after its second batch is stored, to be killed there.
STALLING_JOB = """
import json, sys, time
from pathlib import Path
from headstart.indexers.pipeline import index_repository
from headstart.store import Embedder, Store

uri, options, repository, marker = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
store = Store(uri, Embedder("all-MiniLM-L6-v2"), storage_options=options)

def stall(done, total):
    if done >= 4:
        marker.touch()
        time.sleep(600)

index_repository(store, repository, batch_size=2, workers=1, on_progress=stall)
"""


def test_killed_index_job_repaired(git_repo, bucket, embedder: Embedder, tmp_path: Path) -> None:
    make_history(git_repo)
    for number in range(5):
        git_repo.commit(
            f"Tune upload chunk size {number}", {"client/upload.py": f"CHUNK = {number}\n"}
        )
    marker = tmp_path / "stalled"

    job = subprocess.Popen(
        [
            sys.executable,
            "-c",
            STALLING_JOB,
            bucket.uri,
            json.dumps(bucket.options),
            str(git_repo.path),
            str(marker),
        ],
        env={**os.environ, "HEADSTART_CONFIG": os.devnull},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert job.poll() is None, job.communicate()[1]
            assert time.monotonic() < deadline, "the index job never reached its second batch"
            time.sleep(0.1)
    finally:
        job.send_signal(signal.SIGKILL)
        job.communicate()

    store = bucket.store(embedder)
    name = store.repository_states() and store.repository_states()[0].repo
    assert not name, "the killed job saved the repository state, which comes last"
    commits_before = store.columns("", ["id"]).num_rows  # no repository is named ""
    assert commits_before == 0

    report = index_repository(store, git_repo.path, batch_size=2)

    [state] = store.repository_states()
    assert state.head == git_repo.head()
    assert report.commits_written == 10 - 4
    ids = store.columns(state.repo, ["id", "kind"]).to_pylist()
    assert len(ids) == len({row["id"] for row in ids}), "a record is stored twice"
    assert sum(row["kind"] == RecordKind.COMMIT.value for row in ids) == 10
    assert store.leases.holder(f"index:{state.repo}") is None

    # The derived per-file counts equal those of one uninterrupted run.
    fresh = Store(str(tmp_path / "fresh"), embedder)
    index_repository(fresh, git_repo.path)
    paths = ["client/upload.py", "tests/test_upload.py", "billing/invoice.py"]
    assert store.stats.file_stats(state.repo, paths) == fresh.stats.file_stats(state.repo, paths)
    assert store.stats.co_changes(state.repo, "client/upload.py") == fresh.stats.co_changes(
        state.repo, "client/upload.py"
    )
    assert store.search("upload retry", repo=state.repo)[0].record.title.startswith(
        "Fix upload retry"
    )
