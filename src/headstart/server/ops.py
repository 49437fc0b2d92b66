"""What an operator needs from a running server: readiness, metrics, and the request middleware.

- `GET /readyz` returns 200 when the store and the ledger database both respond, and 503
  naming the one that does not. It is open, as load balancers and orchestrators probe without
  credentials; when an api_token is set, only a request that carries it is told why a check
  failed, as the reason can name internal hosts.
- `GET /metrics` serves Prometheus metrics. It needs the api_token when one is set, unless
  `metrics_open` is true or the scraper sends `metrics_token`.

`install_operations` adds both, and the middleware of `headstart.server.requests`, to an app.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
)
from sqlalchemy import func, select, text
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from headstart.config import Settings
from headstart.ledger.models import UsageRecord
from headstart.metrics import ERRORS
from headstart.server.access import TokenPolicy
from headstart.server.auth import offered_token
from headstart.server.requests import (
    BodyLimitMiddleware,
    ConcurrencyLimitMiddleware,
    RequestContextMiddleware,
)
from headstart.server.services import Services

logger = logging.getLogger("headstart.server.ops")

READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
# The OTLP routes limit their bodies themselves, after decompression, in OTLP's error format.
SELF_LIMITED_PATHS = frozenset({"/v1/logs", "/v1/metrics", "/v1/traces", "/v1/ledger/events"})

# A probe must respond before the load balancer's own timeout, typically 5 to 10 seconds.
CHECK_TIMEOUT_SECONDS = 4.0
_MAX_REASON_CHARS = 300


def _holds(scope: Scope, tokens: tuple[str | None, ...]) -> bool:
    offered = offered_token(scope["headers"])
    if offered is None:
        return False
    encoded = offered.encode("utf-8")
    matches = [hmac.compare_digest(encoded, token.encode("utf-8")) for token in tokens if token]
    return any(matches)


def _reason(exc: BaseException) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:_MAX_REASON_CHARS]


def check_store(services: Services) -> dict[str, Any]:
    """Read the store's list of indexed repositories; raise if the store cannot be read."""
    return {"repositories": len(services.headstart.store.repository_states())}


def check_ledger(services: Services) -> dict[str, Any]:
    """Run a trivial query on the ledger database; raise if it cannot be reached."""
    ledger = services.ledger.get()
    with ledger.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"database": ledger.dialect}


def shared_state_metrics(services: Services) -> bytes:
    """Render the metrics read from the ledger and the store, which every replica shares."""
    registry = CollectorRegistry()
    now = datetime.now(UTC)

    ledger_up = Gauge(
        "headstart_ledger_up", "1 if the ledger database responded.", registry=registry
    )
    try:
        ledger = services.ledger.get()
        with ledger.session() as session:
            newest = session.scalar(select(func.max(UsageRecord.timestamp)))
        ledger_up.set(1)
        if newest is not None:
            lag = Gauge(
                "headstart_ingest_lag_seconds",
                "Seconds since the newest usage record in the ledger was made by an agent.",
                registry=registry,
            )
            lag.set(max((now - _aware(newest)).total_seconds(), 0.0))
    except Exception as exc:  # noqa: BLE001 - any failure means the ledger is down for the scraper
        ledger_up.set(0)
        logger.debug("metrics: the ledger did not respond: %s", exc)

    store_up = Gauge("headstart_store_up", "1 if the store responded.", registry=registry)
    try:
        states = services.headstart.store.repository_states()
        store_up.set(1)
        age = Gauge(
            "headstart_index_age_seconds",
            "Seconds since the last index run of a repository finished.",
            ["repo"],
            registry=registry,
        )
        commits = Gauge(
            "headstart_indexed_commits",
            "Commits indexed per repository.",
            ["repo"],
            registry=registry,
        )
        for state in states:
            age.labels(state.repo).set(max((now - _aware(state.indexed_at)).total_seconds(), 0.0))
            commits.labels(state.repo).set(state.commits)
    except Exception as exc:  # noqa: BLE001
        store_up.set(0)
        logger.debug("metrics: the store did not respond: %s", exc)

    return generate_latest(registry)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class OperationsMiddleware:
    """Serve `/readyz` and `/metrics` ahead of the token check, which they do on their own."""

    def __init__(
        self, app: ASGIApp, settings: Settings, services: Services, policy: TokenPolicy | None = None
    ) -> None:
        self.app = app
        self.settings = settings
        self.services = services
        self.policy = policy or TokenPolicy()
        # Checks run in threads of their own, so a database that hangs blocks at most these
        # two and never the threads that serve briefs.
        self.limiter = anyio.CapacityLimiter(2)
        self.passing: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or path not in (READY_PATH, METRICS_PATH):
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            response: Response = JSONResponse(
                {"detail": f"{path} answers GET only"}, status_code=405, headers={"allow": "GET"}
            )
        elif path == READY_PATH:
            response = await self.readiness(scope)
        else:
            response = await self.metrics(scope)
        await response(scope, receive, send)

    async def _run(self, function: Callable[[Services], Any]) -> Any:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            return await anyio.to_thread.run_sync(
                function, self.services, abandon_on_cancel=True, limiter=self.limiter
            )

    async def _check(self, name: str, function: Callable[[Services], Any]) -> dict[str, Any]:
        try:
            result = {"status": "ok", **await self._run(function)}
        except TimeoutError:
            result = {"status": "failed", "reason": f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"}
        except Exception as exc:  # noqa: BLE001 - whatever fails, the probe reports it
            result = {"status": "failed", "reason": _reason(exc)}

        passing = result["status"] == "ok"
        if not passing:
            ERRORS.labels("readiness").inc()
        # Log changes only: probes arrive every few seconds.
        if self.passing.get(name, True) != passing:
            if passing:
                logger.info("readiness: the %s check passes again", name)
            else:
                logger.warning("readiness: the %s check failed: %s", name, result["reason"])
        self.passing[name] = passing
        return result

    async def readiness(self, scope: Scope) -> Response:
        checks: dict[str, dict[str, Any]] = {}

        async def run(name: str, function: Callable[[Services], Any]) -> None:
            checks[name] = await self._check(name, function)

        async with anyio.create_task_group() as group:
            group.start_soon(run, "store", check_store)
            group.start_soon(run, "ledger", check_ledger)

        ready = all(check["status"] == "ok" for check in checks.values())
        if not ready and self.settings.api_token and not _holds(scope, (self.settings.api_token,)):
            for check in checks.values():
                if "reason" in check:
                    check["reason"] = "send the api_token to see the reason"
        body = {"status": "ready" if ready else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(self, scope: Scope) -> Response:
        settings = self.settings
        accepted = (settings.api_token, settings.metrics_token)
        needs_token = not settings.metrics_open and any(accepted)
        if needs_token and not _holds(scope, accepted):
            access = self.policy.resolve(offered_token(scope["headers"]))
            if access is not None and not access.is_admin:
                # Known, but a team's: forbidden rather than unauthenticated, as on other routes.
                return JSONResponse(
                    {
                        "detail": f"the token of team {access.team!r} does not open /metrics: "
                        "use the api_token or the metrics_token"
                    },
                    status_code=403,
                )
            return JSONResponse(
                {
                    "detail": "missing or invalid token: /metrics takes the api_token or the "
                    "metrics_token, as 'Authorization: Bearer TOKEN'"
                },
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )

        try:
            shared = await self._run(shared_state_metrics)
        except TimeoutError:
            logger.warning(
                "metrics: the ledger and store figures took over %g s; left out",
                CHECK_TIMEOUT_SECONDS,
            )
            shared = b""
        return Response(generate_latest(REGISTRY) + shared, media_type=CONTENT_TYPE_LATEST)


def route_labeller(app: FastAPI) -> Callable[[Scope], str]:
    """Return a function that names the route a request took, for metric labels."""

    def route_of(scope: Scope) -> str:
        if scope["path"] in (READY_PATH, METRICS_PATH):
            return scope["path"]
        for route in app.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "path", scope["path"])
        return "other"

    return route_of


def install_operations(
    app: FastAPI, settings: Settings, services: Services, policy: TokenPolicy | None = None
) -> None:
    """Add readiness, metrics, request ids and the limits around everything already in `app`.

    Call it after every other middleware, so these wrap the token check: a rejected request is
    counted and logged with its id too.
    """
    # Starlette runs the middleware added last first. The body of a brief or an MCP call is read
    # before a slot is taken, so a slow upload takes no slot that other briefs could use.
    app.add_middleware(
        ConcurrencyLimitMiddleware,
        limit=settings.max_concurrent_requests,
        queue_timeout=settings.queue_timeout,
    )
    app.add_middleware(
        BodyLimitMiddleware, limit=settings.max_body_bytes, exempt=SELF_LIMITED_PATHS
    )
    app.add_middleware(OperationsMiddleware, settings=settings, services=services, policy=policy)
    app.add_middleware(RequestContextMiddleware, route_of=route_labeller(app))
