"""REST routes that index trackers on the server: GitHub and GitLab runs, and export uploads.

Each POST checks its input, queues a job and returns 202 with the job; `GET /v1/index/jobs/{job_id}`
follows it. Tracker tokens and base URLs are the server's own (`GITHUB_TOKEN`, `GITLAB_TOKEN`,
`HEADSTART_TRACKER_CONFIG`, …): a request can name neither, so no client can send the server's
token to a host of its choosing. The routes need the server's api_token, because they spend that
token and write to the store.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from headstart.errors import HeadstartError, InputError
from headstart.indexers.trackers.http import (
    TrackerAuthError,
    TrackerNotFoundError,
    TrackerUnavailableError,
)
from headstart.indexers.trackers.jobs import (
    JobConflictError,
    JobQueueFullError,
    TrackerJob,
    TrackerJobs,
)
from headstart.server.services import Services

logger = logging.getLogger("headstart.server.trackers")

PREFIX = "/v1/index"
CSV_TYPES = frozenset({"text/csv", "application/csv"})
JSON_TYPES = frozenset(
    {"application/json", "application/x-ndjson", "application/jsonl", "application/jsonlines"}
)
# Fields a client might send to point the server's token elsewhere; named in the rejection.
_SERVER_SIDE = ("api_url", "url", "base_url", "token")


class TrackerIndexRequest(BaseModel):
    """The body of `POST /v1/index/trackers`."""

    model_config = ConfigDict(extra="forbid")

    tracker: str = Field(description="github or gitlab; Jira is imported from an export.")
    project: str = Field(min_length=1, description="owner/name on GitHub, group/project on GitLab.")
    repo: str | None = Field(
        default=None,
        description="Repository name for the records, as the git index names it (github.com/owner/name).",
    )
    bug_labels: list[str] = Field(
        default_factory=lambda: ["bug"], description="Issue labels that mark a bug."
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_server_settings(cls, data: Any) -> Any:
        if isinstance(data, dict):
            named = [key for key in _SERVER_SIDE if key in data]
            if named:
                raise ValueError(
                    f"{', '.join(map(repr, named))} cannot be sent: the tracker URL and token are server settings "
                    "(GITHUB_API_URL and GITHUB_TOKEN, GITLAB_URL and GITLAB_TOKEN, or HEADSTART_TRACKER_CONFIG)"
                )
        return data


def _status_for(exc: HeadstartError) -> int:
    if isinstance(exc, InputError):
        return 400
    if isinstance(exc, TrackerNotFoundError):
        return 404
    if isinstance(exc, JobConflictError):
        return 409
    if isinstance(exc, JobQueueFullError):
        return 429
    if isinstance(exc, TrackerAuthError | TrackerUnavailableError):
        # The tracker, or the server's token for it, failed: a gateway error, not the client's.
        return 502
    return 500


def _accepted(job: TrackerJob) -> JSONResponse:
    return JSONResponse(
        job.model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"{PREFIX}/jobs/{job.id}"},
    )


def _rejected(exc: HeadstartError, action: str) -> HTTPException:
    status = _status_for(exc)
    if status >= 500:
        logger.warning("%s rejected with %d: %s", action, status, exc)
    headers = (
        {"Location": f"{PREFIX}/jobs/{exc.job.id}"} if isinstance(exc, JobConflictError) else None
    )
    return HTTPException(status_code=status, detail=str(exc), headers=headers)


def build_trackers_router(services: Services, jobs: TrackerJobs | None = None) -> APIRouter:
    """Build the `/v1/index` routes; `jobs` defaults to one queue over the server's store."""
    jobs = jobs or TrackerJobs(lambda: services.headstart.store, services.settings.data_dir)

    def require_api_token() -> None:
        if not services.settings.api_token:
            raise HTTPException(
                status_code=403,
                detail=(
                    "indexing over HTTP needs the server's api_token, since it spends the server's tracker "
                    "token and writes to the store; set HEADSTART_API_TOKEN and restart the server, "
                    "or run `headstart index --github/--gitlab/--import` on the server's machine"
                ),
            )

    router = APIRouter(prefix=PREFIX, tags=["indexing"], dependencies=[Depends(require_api_token)])

    # A plain `def`: FastAPI runs it in a worker thread, because the check calls the tracker.
    @router.post(
        "/trackers",
        status_code=202,
        response_model=TrackerJob,
        summary="Queue a run over a GitHub repository's or GitLab project's pull requests, reviews and bugs",
    )
    def index_tracker(request: TrackerIndexRequest) -> JSONResponse:
        try:
            job = jobs.submit_tracker(
                request.tracker.strip().lower(),
                request.project.strip(),
                repo=request.repo,
                bug_labels=request.bug_labels,
            )
        except HeadstartError as exc:
            raise _rejected(exc, f"{request.tracker} run of {request.project!r}") from exc
        return _accepted(job)

    @router.post(
        "/imports",
        status_code=202,
        response_model=TrackerJob,
        summary="Queue an import of a `gh … --json`, `gh api` or Jira CSV/JSON export sent as the body",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def import_export(
        request: Request,
        repo: Annotated[
            str | None, Query(description="Repository for the records; needed for Jira.")
        ] = None,
        bug_label: Annotated[
            list[str] | None, Query(description="Issue label that marks a bug; repeatable.")
        ] = None,
        name: Annotated[
            str, Query(max_length=200, description="Name of the export in job messages.")
        ] = "upload",
    ) -> JSONResponse:
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type not in CSV_TYPES | JSON_TYPES:
            raise HTTPException(
                status_code=415,
                detail=(
                    f"content type {media_type or 'none'!r} is not an export; send JSON as application/json "
                    "(or application/x-ndjson) and a Jira CSV export as text/csv"
                ),
            )
        body = await request.body()
        try:
            # Parsing a large export takes a while; keep it off the event loop.
            job = await run_in_threadpool(
                jobs.submit_import,
                body,
                csv=media_type in CSV_TYPES,
                name=name,
                repo=repo,
                bug_labels=bug_label or ["bug"],
            )
        except HeadstartError as exc:
            raise _rejected(exc, f"import of {name!r}") from exc
        return _accepted(job)

    @router.get("/jobs", response_model=list[TrackerJob], summary="List the newest indexing jobs")
    def list_jobs(limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[TrackerJob]:
        return jobs.recent(limit)

    @router.get(
        "/jobs/{job_id}",
        response_model=TrackerJob,
        summary="Report an indexing job's state and counts",
    )
    def get_job(job_id: str) -> TrackerJob:
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(
                status_code=404,
                detail=(
                    f"no job {job_id!r} on this server process; jobs are kept in memory, so a restart or "
                    "another replica does not know it. What it stored is kept: queue the run again to resume it"
                ),
            )
        return job

    return router
