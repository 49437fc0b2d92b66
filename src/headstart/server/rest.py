"""REST routes for engineers and scripts: the same brief the MCP tool returns, over plain HTTP."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from headstart.context.models import Brief
from headstart.context.render import render_markdown
from headstart.errors import HeadstartError, IndexNotFoundError, InputError, StoreError
from headstart.server.budget import MAX_BRIEF_TOKENS
from headstart.server.services import Services

logger = logging.getLogger("headstart.server.rest")

MARKDOWN = "text/markdown; charset=utf-8"


class BriefRequest(BaseModel):
    """The body of `POST /v1/briefs`."""

    task: str = Field(min_length=1, description="The task, in a sentence or a paragraph.")
    files: list[str] = Field(default_factory=list, description="Files the task starts from.")
    max_tokens: int | None = Field(
        default=None, ge=100, le=MAX_BRIEF_TOKENS, description="Token budget."
    )
    repo: str | None = Field(default=None, description="Repository path or indexed name.")
    format: Literal["json", "markdown"] = Field(default="json", description="Response format.")
    task_id: str | None = Field(default=None, description="Ledger task to link the brief to.")
    session_id: str | None = Field(default=None, description="The agent session the brief is for.")


def _status_for(exc: HeadstartError) -> int:
    if isinstance(exc, InputError):
        return 400
    if isinstance(exc, IndexNotFoundError):
        return 404
    if isinstance(exc, StoreError):
        return 503
    return 500


def build_rest_router(services: Services) -> APIRouter:
    """Build the `/v1/briefs` route over `services`."""
    router = APIRouter(tags=["briefs"])

    # A plain `def`: FastAPI runs it in a worker thread, because a brief embeds and searches.
    @router.post(
        "/v1/briefs",
        response_model=Brief,
        responses={200: {"content": {"text/markdown": {}}}},
        summary="Brief an agent on a task",
    )
    def create_brief(request: BriefRequest) -> Response:
        files = [path.replace("\\", "/") for path in request.files]
        try:
            brief = services.brief(
                request.task,
                repo=request.repo,
                files=files,
                max_tokens=request.max_tokens,
                output=request.format,
                session_id=request.session_id,
                task_id=request.task_id,
            )
        except HeadstartError as exc:
            status = _status_for(exc)
            if status >= 500:
                logger.warning("brief for repository %r failed: %s", request.repo, exc)
            raise HTTPException(status_code=status, detail=str(exc)) from exc

        if request.format == "markdown":
            return Response(render_markdown(brief), media_type=MARKDOWN)
        return JSONResponse(brief.model_dump(mode="json"))

    return router
