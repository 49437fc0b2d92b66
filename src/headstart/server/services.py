"""Objects the MCP tools and the REST routes share: one Headstart, one ledger, one default repository."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from headstart.config import Settings
from headstart.context.models import Brief
from headstart.metrics import BRIEFS_SERVED, ERRORS
from headstart.server.ledger import LedgerHandle, record_brief
from headstart.service import Headstart


class Services:
    """The per-process objects behind the server, created on first use so that building the
    server touches neither the store nor the ledger."""

    def __init__(
        self,
        settings: Settings,
        headstart: Headstart | None = None,
        *,
        repo: str | None = None,
        ledger: LedgerHandle | None = None,
    ) -> None:
        self.settings = settings
        self.default_repo = repo
        self.ledger = ledger or LedgerHandle(settings.ledger_database_url)
        self._headstart = headstart
        self._lock = threading.Lock()

    @property
    def headstart(self) -> Headstart:
        with self._lock:
            if self._headstart is None:
                self._headstart = Headstart(self.settings)
            return self._headstart

    def repo(self, requested: str | None) -> str | None:
        """Return the repository a request means: the one it names, else the server's default."""
        return requested or self.default_repo

    def brief(
        self,
        task: str,
        *,
        repo: str | None,
        files: Sequence[str],
        max_tokens: int | None,
        output: str = "markdown",
        session_id: str | None = None,
        task_id: str | None = None,
    ) -> Brief:
        """Build a brief that fits `max_tokens` once rendered as `output`, and record its delivery."""
        brief = self.headstart.brief(
            task, repo=self.repo(repo), files=files, max_tokens=max_tokens, output=output
        )
        BRIEFS_SERVED.labels(output).inc()
        if not record_brief(self.ledger, brief, files, session_id=session_id, task_id=task_id):
            ERRORS.labels("ledger").inc()
        return brief

    def close(self) -> None:
        self.ledger.close()
