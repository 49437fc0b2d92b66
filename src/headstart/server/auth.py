"""Token check for the HTTP server, as ASGI middleware so it covers the MCP endpoint too.

A token is sent as `Authorization: Bearer TOKEN` or, as OpenTelemetry exporters often can only
set plain headers, as `x-headstart-token: TOKEN`. A browser on the dashboard sends it in the
HttpOnly cookie `COOKIE_NAME` that the dashboard's login form sets. The cookie counts only on
GET and HEAD requests to the dashboard and the report routes, so no other site can make a
browser send a write with it.

With an admin token (`Settings.api_token`) set, every path but the open ones (`OPEN_PATHS`)
needs a token. Team tokens (see `headstart.server.access`) reach only the dashboard and the
report routes. With no token configured at all the server stays open, as before.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from headstart.server.access import ADMIN, STATE_KEY, Access, TokenPolicy, is_scoped_path

logger = logging.getLogger("headstart.server.auth")

TOKEN_HEADER = b"x-headstart-token"
COOKIE_NAME = "headstart_token"
LOGIN_PATH = "/dashboard/login"
OPEN_PATHS = frozenset({"/healthz", LOGIN_PATH, "/dashboard/logout", "/dashboard/style.css"})
COOKIE_METHODS = frozenset({"GET", "HEAD"})

_MISSING = (
    "missing or invalid token: send 'Authorization: Bearer TOKEN' or "
    "'x-headstart-token: TOKEN' with the server's api_token or a team token"
)
_TEAM_ONLY = (
    "a team token reaches only the dashboard and /v1/reports: "
    "use the server's api_token for this route"
)


def offered_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Return the token a request carries, from either header, or None."""
    for name, value in headers:
        if name == TOKEN_HEADER:
            return value.decode("latin-1").strip()
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def cookie_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Return the dashboard token in a request's cookies, or None."""
    for name, value in headers:
        if name == b"cookie":
            token = cookie_parser(value.decode("latin-1")).get(COOKIE_NAME)
            if token:
                return token
    return None


def _wants_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == b"accept" and b"text/html" in value for name, value in headers)


class TokenAuthMiddleware:
    """Resolve each request's token to an `Access`; reject requests it does not cover.

    A request without a valid token gets 401, or, for a dashboard page a browser asked for, a
    redirect to the login form. A team token on a route outside the dashboard and the reports
    gets 403.
    """

    def __init__(self, app: ASGIApp, policy: TokenPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return

        path = scope["path"]
        scoped = is_scoped_path(path)
        if not self.policy.enabled:
            if scoped:
                _grant(scope, ADMIN)
            await self.app(scope, receive, send)
            return

        headers = scope["headers"]
        token = offered_token(headers)
        if token is None and scoped and scope["method"] in COOKIE_METHODS:
            token = cookie_token(headers)
        access = self.policy.resolve(token)

        if scoped and access is not None:
            _grant(scope, access)
            await self.app(scope, receive, send)
            return
        if not scoped and (access is ADMIN or self.policy.admin_token is None):
            # Team tokens alone guard only the ledger's figures: the other routes stay as open
            # as a server without tokens.
            await self.app(scope, receive, send)
            return

        logger.info(
            "rejected %s %s from %s: %s",
            scope["method"],
            path,
            scope.get("client"),
            "team token outside its routes" if access is not None else "missing or invalid token",
        )
        if access is not None:
            await _reject(send, 403, _TEAM_ONLY)
        elif path.startswith("/dashboard") and _wants_html(headers):
            await _redirect_to_login(scope, send)
        else:
            await _reject(send, 401, _MISSING)


def _grant(scope: Scope, access: Access) -> None:
    scope.setdefault("state", {})[STATE_KEY] = access


async def _reject(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect_to_login(scope: Scope, send: Send) -> None:
    target = scope["path"]
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    location = f"{LOGIN_PATH}?next={quote(target, safe='')}"
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
