"""Tracker runs and export imports as background jobs, for a server that cannot hold a request open.

A first GitHub run over a busy repository makes thousands of requests and may wait out a rate
limit, so a request only checks its input and queues a job. Jobs run one at a time in a worker
thread, in the order they were queued, because they write the same store and checkpoint file.
The thread exits once the queue is empty. Job states live in this process's memory, so a restart
loses them. What a job stored stays, and its checkpoint lets the next run resume.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import tempfile
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import httpx
from pydantic import BaseModel, Field

from headstart.errors import HeadstartError, InputError
from headstart.indexers.trackers.github import DEFAULT_BUG_LABELS, TrackerReport
from headstart.indexers.trackers.http import TrackerError
from headstart.indexers.trackers.imports import (
    ExportContents,
    ImportReport,
    read_export,
    write_export,
)
from headstart.indexers.trackers.run import check_project, run_trackers
from headstart.store import Store

logger = logging.getLogger("headstart.indexers.trackers.jobs")

# Jobs waiting beyond the running one; more are rejected, so a client loop cannot pile up work.
MAX_QUEUED = 20
# Finished jobs kept for status requests; the oldest are forgotten first.
KEEP_FINISHED = 200
# Errors of skipped import records listed in a job or a rejection; the count covers all of them.
MAX_LISTED_ERRORS = 20


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TrackerJob(BaseModel):
    """A queued, running or finished tracker run or import, with what it has stored."""

    id: str
    kind: str = Field(description="github, gitlab or import.")
    source: str = Field(description="github:<repo>, gitlab:<repo> or import:<name>.")
    state: JobState = JobState.QUEUED
    submitted_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    repos: list[str] = Field(
        default_factory=list, description="Repositories the records were written to."
    )
    written: dict[str, int] = Field(default_factory=dict, description="Records written, by kind.")
    requests: int = Field(default=0, description="HTTP requests made to the tracker.")
    skipped: list[str] = Field(
        default_factory=list, description="Import records that could not be read, first ones."
    )
    skipped_count: int = 0
    error: str | None = Field(default=None, description="Why the job failed, and what to do.")


class JobConflictError(HeadstartError):
    """A job for the same source is already queued or running."""

    def __init__(self, message: str, job: TrackerJob) -> None:
        super().__init__(message)
        self.job = job


class JobQueueFullError(HeadstartError):
    """`MAX_QUEUED` jobs are already waiting."""


class TrackerJobs:
    """Queue and run tracker jobs against the store `open_store` returns, one at a time."""

    def __init__(
        self,
        open_store: Callable[[], Store],
        data_dir: Path,
        *,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.open_store = open_store
        self.data_dir = data_dir
        self.environ = environ
        self.transport = transport
        self.max_queued = max_queued
        self._jobs: OrderedDict[str, TrackerJob] = OrderedDict()
        self._queue: deque[
            tuple[TrackerJob, Callable[[Store], list[TrackerReport | ImportReport]]]
        ] = deque()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._sequence = itertools.count(1)

    def submit_tracker(
        self,
        tracker: str,
        project: str,
        *,
        repo: str | None = None,
        bug_labels: Sequence[str] = DEFAULT_BUG_LABELS,
    ) -> TrackerJob:
        """Check that the tracker serves `project`, then queue a run of it.

        Raises InputError for bad input, the TrackerError subclasses for what the tracker
        replied, JobConflictError and JobQueueFullError.
        """
        labels = _labels(bug_labels)
        name = check_project(
            tracker, project, repo=repo, environ=self.environ, transport=self.transport
        )

        def run(store: Store) -> list[TrackerReport | ImportReport]:
            return run_trackers(
                store,
                self.data_dir,
                github=project if tracker == "github" else None,
                gitlab=project if tracker == "gitlab" else None,
                bug_labels=labels,
                repo=name,
                environ=self.environ,
            )

        return self._enqueue(tracker, f"{tracker}:{name}", run, exclusive=True)

    def submit_import(
        self,
        body: bytes,
        *,
        csv: bool,
        name: str = "upload",
        repo: str | None = None,
        bug_labels: Sequence[str] = DEFAULT_BUG_LABELS,
    ) -> TrackerJob:
        """Parse an uploaded export now and queue the writing of its records.

        Raises InputError when the body is empty or not one record in it can be read, and names
        the first records that failed. An export with some bad records is imported without them.
        """
        if not body.strip():
            raise InputError(
                f"the export {name!r} is empty; send the file `gh`, `gh api` or Jira wrote as the request body"
            )
        contents = self._parse(body, csv=csv, name=name, repo=repo, bug_labels=_labels(bug_labels))
        errors = contents.report.errors
        if contents.records == 0 and errors:
            listed = "; ".join(errors[:3])
            raise InputError(
                f"no record in the export {name!r} could be read ({len(errors)} failed: {listed}); "
                "send a `gh … --json`, `gh api` or Jira CSV/JSON export, and for Jira name the repository with `repo`"
            )

        def run(store: Store) -> list[TrackerReport | ImportReport]:
            return [write_export(store, contents)]

        # Imports keep no checkpoint, so two of them may wait in the queue at once.
        return self._enqueue("import", f"import:{name}", run, exclusive=False)

    def get(self, job_id: str) -> TrackerJob | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return job.model_copy(deep=True) if job else None

    def recent(self, limit: int = 50) -> list[TrackerJob]:
        """Return the newest jobs first."""
        with self._lock:
            return [job.model_copy(deep=True) for job in list(self._jobs.values())[::-1][:limit]]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the queue is empty and no job runs; return False on timeout."""
        with self._lock:
            worker = self._worker
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    def _parse(
        self, body: bytes, *, csv: bool, name: str, repo: str | None, bug_labels: list[str]
    ) -> ExportContents:
        # The readers take a path, and CSV rows may hold quoted newlines, so the body goes to a file first.
        uploads = self.data_dir / "trackers" / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        handle, path_text = tempfile.mkstemp(suffix=".csv" if csv else ".json", dir=uploads)
        path = Path(path_text)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(body)
            return read_export(path, repo=repo, bug_labels=bug_labels, name=name)
        except TrackerError as exc:
            raise InputError(str(exc)) from exc
        finally:
            path.unlink(missing_ok=True)

    def _enqueue(
        self,
        kind: str,
        source: str,
        run: Callable[[Store], list[TrackerReport | ImportReport]],
        *,
        exclusive: bool,
    ) -> TrackerJob:
        """Queue `run`; with `exclusive`, reject it while a job for the same source is queued or running."""
        with self._lock:
            for job in self._jobs.values() if exclusive else ():
                if job.source == source and job.state in (JobState.QUEUED, JobState.RUNNING):
                    raise JobConflictError(
                        f"job {job.id} for {source} is already {job.state.value}; "
                        f"follow it at /v1/index/jobs/{job.id} and send this request again once it has finished",
                        job.model_copy(deep=True),
                    )
            if len(self._queue) >= self.max_queued:
                raise JobQueueFullError(
                    f"{len(self._queue)} tracker jobs are already queued; send this request again once some have finished"
                )

            job = TrackerJob(
                id=f"job_{next(self._sequence)}_{secrets.token_hex(4)}",
                kind=kind,
                source=source,
                submitted_at=datetime.now(UTC),
            )
            self._jobs[job.id] = job
            self._forget_old()
            self._queue.append((job, run))
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._drain, name="headstart-tracker-jobs", daemon=True
                )
                self._worker.start()
        logger.info("queued %s for %s", job.id, source)
        return job.model_copy(deep=True)

    def _forget_old(self) -> None:
        finished = [
            job_id
            for job_id, job in self._jobs.items()
            if job.state in (JobState.SUCCEEDED, JobState.FAILED)
        ]
        for job_id in finished[: max(len(finished) - KEEP_FINISHED, 0)]:
            del self._jobs[job_id]

    def _drain(self) -> None:
        # Daemon thread: a server stopping mid-job loses only that job's unfinished page, since
        # checkpoints move after the records they cover are stored.
        while True:
            with self._lock:
                if not self._queue:
                    self._worker = None
                    return
                job, run = self._queue.popleft()
                job.state = JobState.RUNNING
                job.started_at = datetime.now(UTC)
            logger.info("started %s for %s", job.id, job.source)
            self._run(job, run)

    def _run(
        self, job: TrackerJob, run: Callable[[Store], list[TrackerReport | ImportReport]]
    ) -> None:
        try:
            reports = run(self.open_store())
        except HeadstartError as exc:
            self._finish(job, JobState.FAILED, error=str(exc))
            logger.warning("%s for %s failed: %s", job.id, job.source, exc)
            return
        except Exception as exc:
            self._finish(
                job,
                JobState.FAILED,
                error=f"internal error ({type(exc).__name__}); the server log has the traceback",
            )
            logger.exception("%s for %s failed", job.id, job.source)
            return
        self._finish(job, JobState.SUCCEEDED, reports=reports)
        logger.info("finished %s for %s: %s", job.id, job.source, job.written)

    def _finish(
        self,
        job: TrackerJob,
        state: JobState,
        *,
        error: str | None = None,
        reports: Sequence[TrackerReport | ImportReport] = (),
    ) -> None:
        with self._lock:
            for report in reports:
                _add_report(job, report)
            job.state = state
            job.error = error
            job.finished_at = datetime.now(UTC)


def _add_report(job: TrackerJob, report: TrackerReport | ImportReport) -> None:
    if isinstance(report, ImportReport):
        job.repos = sorted({*job.repos, *report.repos})
        for kind, count in report.written.items():
            job.written[kind] = job.written.get(kind, 0) + count
        job.skipped = report.errors[:MAX_LISTED_ERRORS]
        job.skipped_count = len(report.errors)
        return
    job.repos = sorted({*job.repos, report.repo})
    for kind, count in (
        ("pull_request", report.pull_requests),
        ("review_comment", report.review_comments),
        ("bug", report.bugs),
    ):
        job.written[kind] = job.written.get(kind, 0) + count
    job.requests += report.requests


def _labels(bug_labels: Sequence[str]) -> list[str]:
    labels = [label.strip() for label in bug_labels if label.strip()]
    if not labels:
        raise InputError(
            "bug_labels is empty; name at least one issue label that marks a bug, e.g. ['bug']"
        )
    return labels
