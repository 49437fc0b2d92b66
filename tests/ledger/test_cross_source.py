"""One request read from a session log and from OpenTelemetry is one usage record."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select

from headstart.ledger.db import open_ledger
from headstart.ledger.events import UsageEvent
from headstart.ledger.ingest import record_events
from headstart.ledger.models import UsageRecord

from .helpers import records, totals

WHEN = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def log_read(message_id: str, request_id: str | None, **fields) -> UsageEvent:
    """A Claude Code session-log line: 1-hour cache writes split out, no reported cost."""
    base = {
        "source": "claude_code_log",
        "dedup_key": f"claude_code:msg:{message_id}",
        "tool": "claude_code",
        "timestamp": WHEN,
        "model": "test-sonnet",
        "session_id": "s-1",
        "request_id": request_id,
        "input_tokens": 3,
        "cache_write_1h_tokens": 1_000_000,
        "output_tokens": 550,
    }
    return UsageEvent(**{**base, **fields})


def otlp_read(request_id: str, **fields) -> UsageEvent:
    """The same request as `claude_code.api_request`: all cache writes booked as 5-minute."""
    base = {
        "source": "otlp",
        "dedup_key": f"claude_code:req:{request_id}",
        "tool": "claude_code",
        "timestamp": WHEN,
        "model": "test-sonnet",
        "session_id": "s-1",
        "request_id": request_id,
        "input_tokens": 3,
        "cache_write_5m_tokens": 1_000_000,
        "output_tokens": 550,
        "reported_cost_usd": Decimal("6.008259"),
    }
    return UsageEvent(**{**base, **fields})


def assert_merged(ledger) -> None:
    [record] = records(ledger)
    assert record.dedup_key == "claude_code:msg:msg_1"
    assert record.source == "claude_code_log"
    assert record.request_id == "req_1"
    assert record.cache_write_1h_tokens == 1_000_000
    assert record.cache_write_5m_tokens == 0
    assert record.reported_cost == Decimal("6.008259")
    # 3 × $3 + 1M × $6 (1-hour writes) + 550 × $15, per million tokens.
    assert record.computed_cost == Decimal("6.008259")


def test_log_then_otlp_one_record(ledger, prices, teams) -> None:
    record_events(ledger, [log_read("msg_1", "req_1")], prices=prices, teams=teams)

    report = record_events(ledger, [otlp_read("req_1")], prices=prices, teams=teams)

    assert report.inserted == 0
    assert report.updated == 1
    assert_merged(ledger)


def test_otlp_then_log_one_record(ledger, prices, teams) -> None:
    record_events(ledger, [otlp_read("req_1")], prices=prices, teams=teams)

    report = record_events(ledger, [log_read("msg_1", "req_1")], prices=prices, teams=teams)

    assert report.inserted == 0
    assert report.updated == 1
    assert_merged(ledger)


def test_same_batch_one_record(ledger, prices, teams) -> None:
    batch = [otlp_read("req_1"), log_read("msg_1", "req_1")]

    report = record_events(ledger, batch, prices=prices, teams=teams)

    assert report.inserted == 1
    assert report.duplicates == 1
    assert_merged(ledger)


def test_reading_both_again_changes_nothing(ledger, prices, teams) -> None:
    record_events(ledger, [otlp_read("req_1")], prices=prices, teams=teams)
    record_events(ledger, [log_read("msg_1", "req_1")], prices=prices, teams=teams)

    again = record_events(
        ledger, [log_read("msg_1", "req_1"), otlp_read("req_1")], prices=prices, teams=teams
    )
    alone = record_events(ledger, [otlp_read("req_1")], prices=prices, teams=teams)

    assert (again.inserted, again.updated, again.duplicates) == (0, 0, 2)
    assert (alone.inserted, alone.updated, alone.duplicates) == (0, 0, 1)
    assert_merged(ledger)


def test_sidechain_replay_after_merge(ledger, prices, teams) -> None:
    record_events(ledger, [otlp_read("req_1")], prices=prices, teams=teams)
    record_events(ledger, [log_read("msg_1", "req_1")], prices=prices, teams=teams)

    # A subagent transcript replays the parent's response under a new request id.
    replay = log_read("msg_1", "req_2", attributes={"is_sidechain": True})
    record_events(ledger, [replay], prices=prices, teams=teams)

    assert totals(ledger)["requests"] == 1
    assert_merged(ledger)


def test_larger_otlp_read_wins_tokens(ledger, prices, teams) -> None:
    # A streaming snapshot read half-written: the log has 2 output tokens, telemetry 550.
    record_events(ledger, [log_read("msg_1", "req_1", output_tokens=2)], prices=prices, teams=teams)

    record_events(ledger, [otlp_read("req_1")], prices=prices, teams=teams)
    [partial] = records(ledger)
    record_events(ledger, [log_read("msg_1", "req_1")], prices=prices, teams=teams)

    assert partial.output_tokens == 550
    assert partial.cache_write_5m_tokens == 1_000_000
    assert_merged(ledger)


def test_other_tool_same_request_id(ledger, prices, teams) -> None:
    record_events(ledger, [otlp_read("req_1")], prices=prices, teams=teams)

    codex = otlp_read("req_1", tool="codex", dedup_key="codex:otlp:1", model="test-codex")
    record_events(ledger, [codex], prices=prices, teams=teams)

    assert totals(ledger)["requests"] == 2


def test_without_request_id_not_merged(ledger, prices, teams) -> None:
    # Behind some gateways the log has no request id; such lines are keyed by message id only.
    record_events(
        ledger,
        [log_read("msg_1", None), log_read("msg_2", None)],
        prices=prices,
        teams=teams,
    )

    assert totals(ledger)["requests"] == 2


def test_concurrent_sources_one_record(ledger_url, prices, teams) -> None:
    logs = [log_read(f"msg_{index}", f"req_{index}") for index in range(200)]
    telemetry = [otlp_read(f"req_{index}") for index in range(200)]
    errors: list[BaseException] = []

    def write(events: list[UsageEvent]) -> None:
        try:
            # Opened in the thread's try: a failed first open is an error of the test too.
            own = open_ledger(ledger_url)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
            return
        try:
            for start in range(0, len(events), 25):
                record_events(own, events[start : start + 25], prices=prices, teams=teams)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            own.close()

    threads = [
        threading.Thread(target=write, args=(batch,))
        for batch in (logs, telemetry, logs[::-1], telemetry[::-1])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    check = open_ledger(ledger_url)
    with check.session() as session:
        count = session.scalar(select(func.count()).select_from(UsageRecord))
        writes_1h = session.scalar(select(func.sum(UsageRecord.cache_write_1h_tokens)))
        writes_5m = session.scalar(select(func.sum(UsageRecord.cache_write_5m_tokens)))
        costs = session.scalar(
            select(func.count()).where(UsageRecord.reported_cost == Decimal("6.008259"))
        )
        log_keys = session.scalar(
            select(func.count()).where(UsageRecord.source == "claude_code_log")
        )
    check.close()
    assert errors == []
    assert count == 200
    assert writes_1h == 200 * 1_000_000
    assert writes_5m == 0
    assert costs == 200
    assert log_keys == 200
