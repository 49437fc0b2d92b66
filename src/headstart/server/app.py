"""The HTTP server: MCP over streamable HTTP at `/mcp`, the REST API, the OTLP receiver, probes.

The MCP endpoint is stateless and returns plain JSON responses. No session outlives its request,
so memory does not grow with the number of clients, and any replica behind a load balancer can
serve any request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from headstart.config import Settings
from headstart.server.access import TokenPolicy
from headstart.server.auth import TokenAuthMiddleware
from headstart.server.dashboard import build_dashboard_router
from headstart.server.ops import install_operations
from headstart.server.otlp import build_otlp_router
from headstart.server.reports import build_reports_router
from headstart.server.rest import build_rest_router
from headstart.server.services import Services
from headstart.server.tools import build_server
from headstart.server.trackers import build_trackers_router
from headstart.service import Headstart

logger = logging.getLogger("headstart.server")

MCP_PATH = "/mcp"


def build_app(
    settings: Settings,
    headstart: Headstart | None = None,
    *,
    repo: str | None = None,
    host: str = "127.0.0.1",
    services: Services | None = None,
) -> FastAPI:
    """Build the FastAPI app; nothing is opened until the first request.

    `host` is the address the server listens on. On a loopback address the MCP endpoint accepts
    only loopback `Host` and `Origin` headers, which stops DNS-rebinding attacks from web pages.
    """
    services = services or Services(settings, headstart, repo=repo)
    mcp_server = build_server(settings, services=services)
    mcp_app = mcp_server.streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, json_response=True, host=host
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with mcp_server.session_manager.run():
            logger.info("serving MCP at %s", MCP_PATH)
            yield
        services.close()

    app = FastAPI(
        title="Headstart",
        summary="Briefs for coding agents from a repository's history, and a ledger of their tokens.",
        lifespan=lifespan,
    )

    @app.get("/healthz", tags=["health"], summary="Report that the server is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(build_rest_router(services))
    app.include_router(build_otlp_router(settings, services.ledger.get))
    app.include_router(build_trackers_router(services))
    app.include_router(build_reports_router(services))
    policy = TokenPolicy.from_settings(settings)
    app.include_router(build_dashboard_router(services, policy))
    # The MCP route is the SDK's own ASGI endpoint; adding it as a route keeps its path exactly
    # `/mcp`, where a mount would serve `/mcp/` and redirect `/mcp` to it.
    app.router.routes.extend(mcp_app.routes)

    # Installed even without tokens, because it also gives the dashboard and the report routes which
    # teams a request may read.
    app.add_middleware(TokenAuthMiddleware, policy=policy)
    # Last, so that readiness, metrics, request ids and limits wrap the token check.
    install_operations(app, settings, services, policy)
    return app
