"""Logging set-up: everything goes to stderr, so stdout stays free for output and MCP messages.

Lines are plain text by default, or one JSON object each with `HEADSTART_LOG_FORMAT=json` (or
`log_format = "json"` in the config file) for a log collector. Either way a line logged while the
HTTP server handles a request carries that request's id, which `request_id` holds.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

from headstart.errors import InputError

# Set by the HTTP server for the duration of each request. Context variables follow the request
# into the worker threads that FastAPI and the MCP SDK start, so every line of it gets the id.
request_id: ContextVar[str | None] = ContextVar("headstart_request_id", default=None)

LOG_FORMAT_ENV = "HEADSTART_LOG_FORMAT"
FORMATS = ("text", "json")


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request being handled, or None."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class TextFormatter(logging.Formatter):
    """Time, level, logger and message, with ` [request ID]` when a request is being handled."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        current = getattr(record, "request_id", None)
        record.request = f" [{current}]" if current else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(verbose: int = 0, log_format: str | None = None) -> None:
    """Send Headstart's and its libraries' logs to stderr at a level chosen by `-v` flags.

    `log_format` is "text" or "json"; None reads `HEADSTART_LOG_FORMAT`, defaulting to text.
    """
    if verbose <= 0:
        level = logging.WARNING
    elif verbose == 1:
        level = logging.INFO
    else:
        level = logging.DEBUG

    log_format = (log_format or os.environ.get(LOG_FORMAT_ENV) or "text").strip().lower()
    if log_format not in FORMATS:
        raise InputError(
            f"unknown log format {log_format!r}: set {LOG_FORMAT_ENV} to 'text' or 'json'"
        )
    handler = logging.StreamHandler(sys.stderr)
    # The handler checks the level too: a library imported later may set its own logger lower
    # (bm25s sets DEBUG on import).
    handler.setLevel(level)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())

    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)

    # These libraries log per request or per batch at INFO; keep them quiet unless asked.
    for noisy in ("httpx", "sentence_transformers", "lancedb", "mcp", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
