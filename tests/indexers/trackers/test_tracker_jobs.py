"""Tracker jobs: one at a time, no second job for a busy source, a bounded queue, failures kept."""

from __future__ import annotations

import json
import threading
import time

import pytest
from tracker_fakes import FakeApi, Reply, serve

from headstart.indexers.trackers.jobs import (
    JobConflictError,
    JobQueueFullError,
    JobState,
    TrackerJobs,
)

TOKEN = "ghp_jobstoken000000000000000"


def wait_for(jobs: TrackerJobs, job_id: str, state: JobState) -> None:
    deadline = time.monotonic() + 30
    while jobs.get(job_id).state != state and time.monotonic() < deadline:
        time.sleep(0.01)


def test_jobs_conflict_and_full_queue(store, tmp_path):
    api = FakeApi()
    release = threading.Event()

    def open_store():
        # Holds the first job in the running state until the test has queued the others.
        release.wait(30)
        return store

    with serve(api):
        for name in ("widgets", "gadgets", "tools"):
            api.add(f"/repos/acme/{name}", {"full_name": f"acme/{name}"})
            api.add(f"/repos/acme/{name}/issues", [])
        environ = {"GITHUB_API_URL": api.base_url, "GITHUB_TOKEN": TOKEN}
        jobs = TrackerJobs(open_store, tmp_path / "data", environ=environ, max_queued=1)

        first = jobs.submit_tracker("github", "acme/widgets")
        wait_for(jobs, first.id, JobState.RUNNING)
        with pytest.raises(JobConflictError) as conflict:
            jobs.submit_tracker("github", "acme/widgets")
        second = jobs.submit_tracker("github", "acme/gadgets")
        with pytest.raises(JobQueueFullError) as full:
            jobs.submit_tracker("github", "acme/tools")
        release.set()
        assert jobs.wait(30)

    assert f"job {first.id} for github:127.0.0.1/acme/widgets is already running" in str(
        conflict.value
    )
    assert conflict.value.job.id == first.id
    assert "1 tracker jobs are already queued" in str(full.value)
    assert second.state == JobState.QUEUED
    assert [job.state for job in jobs.recent()] == [JobState.SUCCEEDED, JobState.SUCCEEDED]
    assert jobs.get(first.id).started_at <= jobs.get(second.id).started_at


def test_jobs_failure_recorded(store, tmp_path):
    api = FakeApi()
    with serve(api):
        api.add("/repos/acme/widgets", {"full_name": "acme/widgets"})
        api.add("/repos/acme/widgets/issues", Reply(404, {"message": "Not Found"}))
        jobs = TrackerJobs(
            lambda: store,
            tmp_path / "data",
            environ={"GITHUB_API_URL": api.base_url, "GITHUB_TOKEN": TOKEN},
        )
        job = jobs.submit_tracker("github", "acme/widgets")
        assert jobs.wait(30)

    failed = jobs.get(job.id)
    assert failed.state == JobState.FAILED
    assert failed.error.startswith(
        "github:127.0.0.1/acme/widgets: not found (HTTP 404 on '/repos/acme/widgets/issues')"
    )
    assert TOKEN not in failed.error
    assert failed.finished_at is not None


def test_jobs_imports_share_name(store, tmp_path):
    release = threading.Event()

    def open_store():
        release.wait(30)
        return store

    body = json.dumps(
        [
            {
                "author": {"login": "ada"},
                "body": "",
                "createdAt": "2024-01-01T00:00:00Z",
                "labels": [{"name": "bug"}],
                "number": 3,
                "state": "OPEN",
                "title": "Crash",
                "url": "https://github.com/acme/widgets/issues/3",
            }
        ]
    ).encode()
    jobs = TrackerJobs(open_store, tmp_path / "data")

    first = jobs.submit_import(body, csv=False)
    second = jobs.submit_import(body, csv=False)
    release.set()
    assert jobs.wait(60)

    assert first.source == second.source == "import:upload"
    assert jobs.get(first.id).written == {"bug": 1}
    assert jobs.get(second.id).written == {"bug": 1}
    assert store.columns("github.com/acme/widgets", ["id"]).num_rows == 1
    assert list((tmp_path / "data" / "trackers" / "uploads").iterdir()) == []
