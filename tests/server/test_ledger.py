"""The server's ledger handle: opened once, retried after a pause, never failing a brief."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from headstart.context.models import Brief
from headstart.ledger.errors import LedgerError
from headstart.ledger.models import BriefDelivery
from headstart.records import Freshness
from headstart.server.ledger import RETRY_SECONDS, LedgerHandle, _safe_url, record_brief


def make_brief(brief_id: str = "hsb_0123456789abcdef") -> Brief:
    return Brief(
        id=brief_id,
        repo="demo",
        task="add retries",
        generated_at=datetime(2024, 1, 1, tzinfo=UTC),
        freshness=Freshness(),
        likely_files=[],
        related=[],
        fixes_and_reverts=[],
        co_changes=[],
        max_tokens=1500,
        tokens=321,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_handle_opens_once(tmp_path: Path) -> None:
    handle = LedgerHandle(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")

    try:
        assert handle.get() is handle.get()
    finally:
        handle.close()


def test_handle_retries_after_pause(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    clock = Clock()
    handle = LedgerHandle(f"sqlite:///{blocker / 'ledger.sqlite3'}", clock=clock)

    with pytest.raises(LedgerError, match="unavailable"):
        handle.get()

    # The folder now exists, but the handle waits out the pause before it looks again.
    blocker.unlink()
    with pytest.raises(LedgerError, match="unavailable"):
        handle.get()

    clock.now += RETRY_SECONDS + 1
    try:
        assert handle.get() is not None
    finally:
        handle.close()


def test_record_brief(tmp_path: Path) -> None:
    handle = LedgerHandle(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    brief = make_brief()

    try:
        assert record_brief(handle, brief, ["src/a.py"], session_id="session-1") is True
        with handle.get().session() as session:
            row = session.execute(select(BriefDelivery)).scalar_one()
    finally:
        handle.close()

    assert row.id == brief.id
    assert row.files == ["src/a.py"]
    assert row.tokens == 321
    assert row.session_id == "session-1"


def test_record_brief_failure_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    handle = LedgerHandle(f"sqlite:///{blocker / 'ledger.sqlite3'}")

    with caplog.at_level(logging.WARNING, logger="headstart.server.ledger"):
        recorded = record_brief(handle, make_brief(), [])

    assert recorded is False
    assert "hsb_0123456789abcdef" in caplog.text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+psycopg://ada:pw@db:5432/ledger",
            "postgresql+psycopg://ada:***@db:5432/ledger",
        ),
        ("sqlite:////tmp/ledger.sqlite3", "sqlite:////tmp/ledger.sqlite3"),
        ("postgresql://ada@db/ledger", "postgresql://ada@db/ledger"),
    ],
)
def test_safe_url(url: str, expected: str) -> None:
    assert _safe_url(url) == expected
