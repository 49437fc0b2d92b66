"""The leaders' dashboard: server-rendered pages of the ledger's reports, scoped by token."""

from __future__ import annotations

from headstart.server.dashboard.routes import build_dashboard_router

__all__ = ["build_dashboard_router"]
