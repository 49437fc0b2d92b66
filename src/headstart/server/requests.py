"""ASGI middleware that every HTTP request passes: its id, its metrics and access log, its limits.

Order, outermost first, as `build_app` installs them:

1. `RequestContextMiddleware` gives the request an id (the client's `x-request-id`, or a new
   one), echoes it in the response, logs one access line and counts the request in /metrics.
2. `OperationsMiddleware` (ops.py) serves `/readyz` and `/metrics`.
3. `BodyLimitMiddleware` reads the body whole and answers 413 to one over `max_body_bytes`.
4. `ConcurrencyLimitMiddleware` lets `max_concurrent_requests` through at once; the rest wait up
   to `queue_timeout` seconds for a slot and then get 503 with `Retry-After`.
5. `TokenAuthMiddleware` (auth.py) rejects requests without a valid token.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Collection

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headstart.logs import request_id
from headstart.metrics import ERRORS, HTTP_IN_FLIGHT, HTTP_LATENCY, HTTP_REJECTED, HTTP_REQUESTS

logger = logging.getLogger("headstart.server.requests")
access_logger = logging.getLogger("headstart.server.access")

REQUEST_ID_HEADER = b"x-request-id"

# A client's id is kept only if it is short and plain, so it cannot forge or flood log lines.
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")

# Routes that must respond while the server is busy: probes and the scraper.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def client_request_id(scope: Scope) -> str | None:
    """Return the request id the client sent, if it is one the server keeps."""
    offered = _header(scope, REQUEST_ID_HEADER)
    if offered is not None and _ACCEPTED_ID.fullmatch(offered.strip()):
        return offered.strip()
    return None


async def send_json(
    send: Send, status: int, body: dict, headers: list[tuple[bytes, bytes]]
) -> None:
    """Send a complete JSON response."""
    encoded = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(encoded)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": encoded})


class RequestContextMiddleware:
    """Set the request id for the request's log lines, and count and log the request.

    `route_of` maps a request to its route label: the route's own path template, or "other" for
    paths the app does not serve, so scanners cannot grow the metrics without bound.
    """

    def __init__(self, app: ASGIApp, route_of: Callable[[Scope], str]) -> None:
        self.app = app
        self.route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        current = client_request_id(scope) or uuid.uuid4().hex
        token = request_id.set(current)
        started = time.perf_counter()
        status = 500
        response_started = False
        HTTP_IN_FLIGHT.inc()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = [*message.get("headers", []), (REQUEST_ID_HEADER, current.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Logged here, inside the request's context, so the traceback carries its id.
            logger.exception("%s %s failed", scope["method"], scope["path"])
            status = 500
            if not response_started:
                await send_json(
                    send_with_id,
                    500,
                    {"detail": "internal server error", "request_id": current},
                    [],
                )
        finally:
            seconds = time.perf_counter() - started
            route = self.route_of(scope)
            labels = (route, scope["method"], str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_LATENCY.labels(*labels).observe(seconds)
            HTTP_IN_FLIGHT.dec()
            if status >= 500:
                ERRORS.labels("http").inc()
            access_logger.info(
                "%s %s %d %.1f ms", scope["method"], scope["path"], status, seconds * 1000
            )
            request_id.reset(token)


class BodyLimitMiddleware:
    """Reject a request whose body is over `limit` bytes, declared or streamed, with 413.

    Paths in `exempt` check the limit themselves (the OTLP receiver, which also limits the
    decompressed size and responds in OTLP's own error format).
    """

    def __init__(self, app: ASGIApp, limit: int, exempt: Collection[str] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return

        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return

        # The body is read whole before the app runs, so an oversized one is refused before any
        # work starts. Every route here reads its body whole anyway.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._reject(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        HTTP_REJECTED.labels("body_too_large").inc()
        detail = (
            f"request body exceeds {self.limit} bytes: send less per request, or raise "
            "max_body_bytes (HEADSTART_MAX_BODY_BYTES) on the server"
        )
        await send_json(send, 413, {"detail": detail}, [(b"connection", b"close")])


class ConcurrencyLimitMiddleware:
    """Handle at most `limit` requests at once; others wait up to `queue_timeout` seconds, then 503.

    A limit of 0 turns the middleware off. Probes and /metrics are never held back.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        queue_timeout: float,
        unlimited: Collection[str] = UNLIMITED_PATHS,
    ) -> None:
        self.app = app
        self.limit = limit
        self.queue_timeout = queue_timeout
        self.unlimited = frozenset(unlimited)
        self.slots = anyio.Semaphore(limit) if limit > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.slots is None or scope["type"] != "http" or scope["path"] in self.unlimited:
            await self.app(scope, receive, send)
            return

        acquired = False
        if self.queue_timeout <= 0:
            try:
                self.slots.acquire_nowait()
                acquired = True
            except anyio.WouldBlock:
                pass
        else:
            with anyio.move_on_after(self.queue_timeout):
                await self.slots.acquire()
                acquired = True

        if not acquired:
            HTTP_REJECTED.labels("busy").inc()
            detail = (
                f"the server is busy: {self.limit} requests are in progress and none finished "
                f"within {self.queue_timeout:g} s; retry later, or add replicas or raise "
                "max_concurrent_requests (HEADSTART_MAX_CONCURRENT_REQUESTS)"
            )
            await send_json(send, 503, {"detail": detail}, [(b"retry-after", b"1")])
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()
