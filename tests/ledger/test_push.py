from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.deliveries import sessions_using_brief
from headstart.ledger.errors import LedgerError
from headstart.ledger.events import UsageEvent
from headstart.ledger.ingest import record_events
from headstart.ledger.push import push

from .helpers import totals

TOKEN = "s3cret"
WHEN = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


class Central:
    """A loopback HTTP server that stores pushed events in its own ledger, as the real one does."""

    def __init__(self, ledger: Ledger, prices, teams) -> None:
        self.ledger = ledger
        self.requests = 0
        central = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                central.requests += 1
                if self.path != "/v1/ledger/events":
                    self.send_error(404)
                    return
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self.send_error(401)
                    return
                body = self.rfile.read(int(self.headers["Content-Length"]))
                events = [UsageEvent.model_validate(item) for item in json.loads(body)]
                record_events(central.ledger, events, prices=prices, teams=teams)
                payload = json.dumps(
                    {"received": len(events), "accepted": len(events), "rejected": 0}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def central(tmp_path: Path, prices, teams) -> Iterator[Central]:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    server = Central(ledger, prices, teams)
    try:
        yield server
    finally:
        server.close()
        ledger.close()


def local_events(count: int, offset: int = 0) -> list[UsageEvent]:
    return [
        UsageEvent(
            source="claude_code_log",
            dedup_key=f"claude_code:msg:m{index}",
            tool="claude_code",
            timestamp=WHEN,
            model="test-sonnet",
            session_id="s-1",
            output_tokens=10,
            engineer="dev@example.com",
            brief_ids=["hsb_0123456789abcdef"] if index == 0 else [],
        )
        for index in range(offset, offset + count)
    ]


def test_push_then_only_new(ledger, central, prices, teams) -> None:
    record_events(ledger, local_events(7), prices=prices, teams=teams)

    first = push(ledger, central.url, TOKEN, batch_size=3)
    record_events(ledger, local_events(2, offset=7), prices=prices, teams=teams)
    second = push(ledger, central.url, TOKEN, batch_size=3)
    third = push(ledger, central.url, TOKEN)

    assert (first.records, first.batches) == (7, 3)
    assert second.records == 2
    assert third.records == 0
    assert totals(central.ledger) == totals(ledger)
    assert [s.session_id for s in sessions_using_brief(central.ledger, "hsb_0123456789abcdef")] == [
        "s-1"
    ]


def test_push_wrong_token(ledger, central, prices, teams) -> None:
    record_events(ledger, local_events(1), prices=prices, teams=teams)

    with pytest.raises(LedgerError, match="--token"):
        push(ledger, central.url, "wrong")
    assert push(ledger, central.url, TOKEN).records == 1


def test_push_unreachable(ledger, prices, teams) -> None:
    record_events(ledger, local_events(1), prices=prices, teams=teams)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(LedgerError, match=f"127.0.0.1:{port}"):
        push(ledger, f"http://127.0.0.1:{port}", TOKEN)


def test_push_bad_url(ledger) -> None:
    with pytest.raises(Exception, match="'ftp://x'"):
        push(ledger, "ftp://x")
