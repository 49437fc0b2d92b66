"""Logging set-up: everything goes to stderr, so stdout stays free for output and MCP messages."""

from __future__ import annotations

import logging
import sys


def configure_logging(verbose: int = 0) -> None:
    """Send Headstart's and its libraries' logs to stderr at a level chosen by `-v` flags."""
    if verbose <= 0:
        level = logging.WARNING
    elif verbose == 1:
        level = logging.INFO
    else:
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)

    # These libraries log per request or per batch at INFO; keep them quiet unless asked.
    for noisy in ("httpx", "sentence_transformers", "lancedb", "mcp", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
