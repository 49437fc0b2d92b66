"""Bearer-token check for the HTTP server, as ASGI middleware so it covers the MCP endpoint too.

When `Settings.api_token` is set, every path but the open ones (`/healthz`) needs the token, sent
as `Authorization: Bearer TOKEN` or, as OpenTelemetry exporters often can only set plain headers,
as `x-headstart-token: TOKEN`.
"""

from __future__ import annotations

import hmac
import json
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("headstart.server.auth")

TOKEN_HEADER = b"x-headstart-token"
OPEN_PATHS = frozenset({"/healthz"})

_REJECTION = json.dumps(
    {
        "detail": (
            "missing or invalid token: send 'Authorization: Bearer TOKEN' or "
            "'x-headstart-token: TOKEN' with the server's api_token"
        )
    }
).encode()


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


class TokenAuthMiddleware:
    """Reject HTTP requests without the right token with 401, except on `OPEN_PATHS`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return

        token = offered_token(scope["headers"])
        # compare_digest takes the same time wherever the strings differ, so the token cannot
        # be guessed one character at a time from response times.
        if token is not None and hmac.compare_digest(token.encode("utf-8"), self.expected):
            await self.app(scope, receive, send)
            return

        client = scope.get("client")
        logger.info(
            "rejected %s %s from %s: missing or invalid token",
            scope["method"],
            scope["path"],
            client,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b"Bearer"),
                    (b"content-length", str(len(_REJECTION)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _REJECTION})
