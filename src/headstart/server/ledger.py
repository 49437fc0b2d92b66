"""The server's connection to the ledger: opened on first use, and never in the way of a brief.

A brief is worth more than its ledger row, so a ledger that cannot be opened or written costs a
warning in the log, not the brief. After a failed open the server waits `RETRY_SECONDS` before it
tries again, so an unreachable database does not slow every request down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from headstart.context.models import Brief
from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.deliveries import record_delivery
from headstart.ledger.errors import LedgerError, LedgerInputError

logger = logging.getLogger("headstart.server.ledger")

RETRY_SECONDS = 30.0

# Exceptions of a failing ledger: its own errors, the database driver's, and the file system's
# (a SQLite folder that cannot be created).
LEDGER_FAILURES = (LedgerError, LedgerInputError, SQLAlchemyError, OSError)


class LedgerHandle:
    """Open the ledger at `url` once, lazily, and hand the same `Ledger` to every caller."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._clock = clock
        self._ledger: Ledger | None = None
        self._failed_at: float | None = None
        self._failure: Exception | None = None
        self._lock = threading.Lock()

    def get(self) -> Ledger:
        """Return the open ledger, opening it first if needed.

        Raises `LedgerError` when the ledger cannot be opened, or when it failed to open less
        than `RETRY_SECONDS` ago.
        """
        with self._lock:
            if self._ledger is not None:
                return self._ledger
            if self._failed_at is not None and self._clock() - self._failed_at < RETRY_SECONDS:
                raise LedgerError(f"the ledger is unavailable: {self._failure}") from self._failure
            try:
                self._ledger = open_ledger(self.url)
            except LEDGER_FAILURES as exc:
                self._failed_at = self._clock()
                self._failure = exc
                raise LedgerError(f"the ledger is unavailable: {exc}") from exc
            self._failed_at = None
            self._failure = None
            logger.info("opened the ledger at %s", _safe_url(self.url))
            return self._ledger

    def close(self) -> None:
        with self._lock:
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None


def record_brief(
    handle: LedgerHandle,
    brief: Brief,
    files: Sequence[str],
    *,
    session_id: str | None = None,
    task_id: str | None = None,
) -> bool:
    """Record that `brief` was handed out; log a warning and return False if the ledger fails."""
    try:
        ledger = handle.get()
        try:
            record_delivery(
                ledger,
                brief.id,
                brief.task,
                brief.repo,
                list(files),
                brief.tokens,
                session_id,
                task_id=task_id,
            )
        except IntegrityError:
            if task_id is None:
                raise
            # The task id names no task in this ledger: keep the delivery, drop the link.
            logger.warning(
                "brief %s names unknown task %r; recorded it without the task", brief.id, task_id
            )
            record_delivery(
                ledger, brief.id, brief.task, brief.repo, list(files), brief.tokens, session_id
            )
    except LEDGER_FAILURES as exc:
        logger.warning("brief %s was delivered but not recorded in the ledger: %s", brief.id, exc)
        return False
    return True


def _safe_url(url: str) -> str:
    """Hide the password of a database URL before it is logged."""
    scheme, separator, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not separator or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
