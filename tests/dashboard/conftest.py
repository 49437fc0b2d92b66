"""Fixtures for dashboard tests: an app over a known ledger, served on loopback, and Chromium.

The browser tests drive Debian's `chromium` through Playwright's Python package, with the
executable path set, so nothing downloads a browser. They skip, saying why, when either is
missing; CI installs both (`.ci/run` and the `test` extra).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

import pytest
import uvicorn
from fastapi import FastAPI

from dashboard.ledger_data import ADMIN_TOKEN, fill_ledger, write_teams_file
from headstart.config import Settings
from headstart.ledger.db import open_ledger
from headstart.server.app import build_app

CHROMIUM_ENV = "HEADSTART_CHROMIUM"
REQUIRE_ENV = "HEADSTART_REQUIRE_BROWSER"


@dataclass
class DashboardApp:
    settings: Settings
    app: FastAPI


@pytest.fixture(scope="module")
def dashboard_app(tmp_path_factory: pytest.TempPathFactory) -> DashboardApp:
    """The Headstart app over the ledger of `ledger_data`, with admin and team tokens."""
    root = tmp_path_factory.mktemp("dashboard")
    settings = Settings(
        data_dir=root / "data",
        api_token=ADMIN_TOKEN,
        teams_file=write_teams_file(root / "teams.toml"),
        # Fewer bootstrap resamples keep each page fast; the intervals checked are exact anyway.
        report_bootstrap_resamples=200,
    )
    ledger = open_ledger(settings.ledger_database_url)
    try:
        fill_ledger(ledger)
    finally:
        ledger.close()
    return DashboardApp(settings=settings, app=build_app(settings))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(dashboard_app: DashboardApp) -> Iterator[str]:
    """Serve the app with uvicorn on a free loopback port for as long as the module runs."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(dashboard_app.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def chromium_path() -> str | None:
    """Return Chromium's executable: $HEADSTART_CHROMIUM, else `chromium` on PATH."""
    return os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")


def _missing(reason: str) -> NoReturn:
    # CI sets REQUIRE_ENV, so a missing browser fails the run instead of skipping its tests.
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set)")
    pytest.skip(reason)


# Module scope: Playwright's sync API runs an asyncio loop on this thread until it stops, and
# later tests that start their own loop (the MCP clients) fail while it runs.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        from playwright import sync_api
    except ImportError:
        _missing("the dashboard's browser tests need Playwright: pip install -e '.[test]'")
    executable = chromium_path()
    if executable is None:
        _missing(
            "the dashboard's browser tests need Chromium: apt-get install chromium, "
            f"or set {CHROMIUM_ENV} to its executable"
        )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()
