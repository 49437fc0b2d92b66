"""A JSON client for tracker REST APIs: paging by Link headers, rate limits, retries.

Tokens travel only in request headers. Messages and logs name the source and the URL path
without its query, and never print headers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import httpx

from headstart.errors import HeadstartError

logger = logging.getLogger("headstart.indexers.trackers")

# Attempts for a 5xx reply, a network error or a secondary rate limit before giving up.
MAX_ATTEMPTS = 5
# Waits longer than this (seconds) are not slept through: the run stops and a later run
# resumes from the checkpoint.
MAX_WAIT_SECONDS = 900.0


class TrackerError(HeadstartError):
    """A tracker API or export could not be read; the message names the source and the fix.

    TrackerError
     ├── TrackerNotFoundError     the tracker has no such project (HTTP 404)
     ├── TrackerAuthError         the tracker rejected the token or its scopes (HTTP 401, 403)
     └── TrackerUnavailableError  network errors, 5xx replies or rate limits outlasted the retries
    """


class TrackerNotFoundError(TrackerError):
    """The tracker has no project of that name, or the token cannot see it."""


class TrackerAuthError(TrackerError):
    """The tracker rejected the token, or the token lacks a scope."""


class TrackerUnavailableError(TrackerError):
    """The tracker could not be reached, failed, or rate-limited the run past what a retry waits for."""


@dataclass(frozen=True)
class Auth:
    """How to authenticate against one tracker: a header name and its value."""

    header: str
    value: str


class TrackerClient:
    """GET JSON from one tracker API with retries; `source` names it in every message."""

    def __init__(
        self,
        source: str,
        base_url: str,
        auth: Auth | None,
        *,
        token_help: str,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = MAX_WAIT_SECONDS,
        backoff: float = 1.0,
        timeout: float = 30.0,
        attempts: int = MAX_ATTEMPTS,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "headstart"}
        if auth is not None:
            headers[auth.header] = auth.value
        self.source = source
        self.token_help = token_help
        self.sleep = sleep
        self.max_wait = max_wait
        self.backoff = backoff
        self.attempts = attempts
        self.requests = 0
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Fetch one JSON document."""
        return self._request(path, params).json()

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[list[Any]]:
        """Yield each page of a list endpoint, following `Link: <…>; rel="next"` headers."""
        url: str | None = path
        query: Mapping[str, Any] | None = params
        while url:
            response = self._request(url, query)
            data = response.json()
            if not isinstance(data, list):
                raise TrackerError(
                    f"{self.source}: expected a JSON list from {_path(response.request.url)!r}, "
                    f"found {type(data).__name__}; check the base URL"
                )
            yield data
            url = response.links.get("next", {}).get("url")
            # The next link carries the query already.
            query = None

    def _request(self, url: str, params: Mapping[str, Any] | None) -> httpx.Response:
        # Absolute next-page URLs arrive from Link headers; relative paths join the base URL.
        url = url.lstrip("/") if not url.startswith(("http://", "https://")) else url
        for attempt in range(1, self.attempts + 1):
            self.requests += 1
            try:
                response = self._client.get(url, params=params)
            except httpx.TransportError as exc:
                if attempt == self.attempts:
                    raise TrackerUnavailableError(
                        f"{self.source}: network error on {_strip_query(url)!r} after {attempt} attempts "
                        f"({type(exc).__name__}); check the network and the base URL, then run again "
                        "(the run resumes from the last checkpoint)"
                    ) from exc
                self._wait(
                    self.backoff * 2 ** (attempt - 1), f"network error ({type(exc).__name__})", url
                )
                continue

            if response.status_code < 400:
                return response
            wait = self._retry_wait(response, attempt)
            if wait is None:
                raise self._error(response)
            if attempt == self.attempts:
                break  # no wait after the last attempt
            self._wait(wait, f"HTTP {response.status_code}", url)
        if response.status_code in (403, 429):
            # Still rate-limited after every retry: no token problem, so no TrackerAuthError.
            raise TrackerUnavailableError(
                f"{self.source}: still rate-limited (HTTP {response.status_code} on {_path(response.request.url)!r}) "
                f"after {self.attempts} attempts; run again later: the run resumes from the last checkpoint"
            )
        raise self._error(response)

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying `response`, or None when retrying cannot help."""
        status = response.status_code
        headers = response.headers
        if status in (403, 429):
            # Primary limit: the quota is spent until the reset time (epoch seconds).
            if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
                return self._until_reset(headers["x-ratelimit-reset"], response)
            if headers.get("ratelimit-remaining") == "0" and "ratelimit-reset" in headers:
                return self._until_reset(headers["ratelimit-reset"], response)
            # A secondary limit gives its wait in Retry-After, or only in the response message.
            if "retry-after" in headers:
                return _seconds(headers["retry-after"], 60.0)
            if status == 429 or "secondary rate limit" in response.text.lower():
                return 60.0 * 2 ** (attempt - 1) * self.backoff
            return None
        if status >= 500 and attempt < self.attempts:
            return self.backoff * 2 ** (attempt - 1)
        return None

    def _until_reset(self, reset: str, response: httpx.Response) -> float:
        wait = max(_seconds(reset, 0.0) - time.time(), 0.0) + 1.0
        if wait > self.max_wait:
            at = datetime.fromtimestamp(_seconds(reset, 0.0), UTC)
            raise TrackerUnavailableError(
                f"{self.source}: the API rate limit is used up until {at:%Y-%m-%d %H:%M} UTC "
                f"({_path(response.request.url)!r}); run again after that time: everything fetched "
                "so far is stored and the run resumes from the last checkpoint"
            )
        return wait

    def _wait(self, seconds: float, reason: str, url: str) -> None:
        if seconds > self.max_wait:
            raise TrackerUnavailableError(
                f"{self.source}: asked to wait {seconds:.0f}s ({reason}) on {_strip_query(url)!r}; "
                "run again later: the run resumes from the last checkpoint"
            )
        logger.warning(
            "%s: %s on %s; retrying in %.1fs", self.source, reason, _strip_query(url), seconds
        )
        self.sleep(seconds)

    def _error(self, response: httpx.Response) -> TrackerError:
        status = response.status_code
        where = _path(response.request.url)
        if status == 401:
            return TrackerAuthError(
                f"{self.source}: the token was rejected (HTTP 401 on {where!r}); {self.token_help}"
            )
        if status == 403:
            return TrackerAuthError(
                f"{self.source}: access denied (HTTP 403 on {where!r}); the token lacks a scope "
                f"or access to this project; {self.token_help}"
            )
        if status == 404:
            return TrackerNotFoundError(
                f"{self.source}: not found (HTTP 404 on {where!r}); check the owner/name spelling, "
                f"and for a private repository that the token can read it; {self.token_help}"
            )
        return TrackerUnavailableError(
            f"{self.source}: HTTP {status} on {where!r} after retries; run again later: "
            "the run resumes from the last checkpoint"
        )


def _seconds(value: str, default: float) -> float:
    try:
        return float(value)
    except ValueError:
        return default


def _path(url: httpx.URL) -> str:
    return url.path


def _strip_query(url: str) -> str:
    return url.partition("?")[0]
