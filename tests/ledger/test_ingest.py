from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from headstart.ledger.db import open_ledger
from headstart.ledger.events import UsageEvent
from headstart.ledger.ingest import record_events
from headstart.ledger.models import AgentSession, Engineer, Team, UsageRecord
from headstart.ledger.teams import TeamMap

from .helpers import records, totals

WHEN = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def event(key: str, **fields) -> UsageEvent:
    base = {
        "source": "test",
        "dedup_key": key,
        "tool": "claude_code",
        "timestamp": WHEN,
        "model": "test-sonnet",
        "session_id": "s-1",
    }
    return UsageEvent(**{**base, **fields})


def test_record_twice_changes_nothing(ledger, prices, teams) -> None:
    batch = [event("a", input_tokens=3, output_tokens=550), event("b", output_tokens=10)]

    first = record_events(ledger, batch, prices=prices, teams=teams)
    second = record_events(ledger, batch, prices=prices, teams=teams)

    assert first.inserted == 2
    assert second.inserted == 0
    assert second.duplicates == 2
    assert totals(ledger)["output"] == 560


def test_reported_cost_kept_beside_computed(ledger, prices, teams) -> None:
    record_events(
        ledger,
        [event("a", output_tokens=1_000_000, reported_cost_usd=Decimal("14.5"))],
        prices=prices,
        teams=teams,
    )

    [record] = records(ledger)
    assert record.reported_cost == Decimal("14.5")
    assert record.computed_cost == Decimal(15)
    assert record.price_version == "override illustrative (prices.toml)"


def test_smaller_snapshot_keeps_larger(ledger, prices, teams) -> None:
    record_events(ledger, [event("a", output_tokens=550)], prices=prices, teams=teams)

    report = record_events(ledger, [event("a", output_tokens=2)], prices=prices, teams=teams)

    assert report.duplicates == 1
    assert totals(ledger)["output"] == 550


def test_concurrent_writers_no_duplicates(ledger_url, prices, teams) -> None:
    batch = [
        event(
            f"k{index}", output_tokens=index, session_id=f"s{index % 7}", engineer=f"e{index % 3}@x"
        )
        for index in range(300)
    ]
    errors: list[BaseException] = []

    def write() -> None:
        own = open_ledger(ledger_url)
        try:
            record_events(own, batch, prices=prices, teams=teams)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    check = open_ledger(ledger_url)
    with check.session() as session:
        count = session.scalar(select(func.count()).select_from(UsageRecord))
        sessions = session.scalar(select(func.count()).select_from(AgentSession))
        engineers = session.scalar(select(func.count()).select_from(Engineer))
        output = session.scalar(select(func.sum(UsageRecord.output_tokens)))
    check.close()
    assert errors == []
    assert count == 300
    assert sessions == 7
    assert engineers == 3
    assert output == sum(range(300))


def test_team_resolution_order(ledger, prices, tmp_path: Path) -> None:
    teams_file = tmp_path / "teams.toml"
    teams_file.write_text(
        '[teams.platform]\nmembers = ["Alice@Example.com"]\n\n'
        '[teams.payments]\nrepositories = ["github.com/acme/pay-*"]\n'
    )
    mapping = TeamMap.load(teams_file)
    batch = [
        event("a", engineer="alice@example.com", repository="github.com/acme/pay-api"),
        event("b", engineer="bob@example.com", repository="git@github.com:acme/pay-web.git"),
        event("c", engineer="alice@example.com", team="security"),
        event("d", engineer="carol@example.com", repository="github.com/acme/other"),
    ]

    record_events(ledger, batch, prices=prices, teams=mapping)

    with ledger.session() as session:
        rows = session.execute(
            select(UsageRecord.dedup_key, Team.name)
            .outerjoin(Team, Team.id == UsageRecord.team_id)
            .order_by(UsageRecord.dedup_key)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("a", "platform"),
        ("b", "payments"),
        ("c", "security"),
        ("d", None),
    ]


def test_session_span_widens(ledger, prices, teams) -> None:
    record_events(ledger, [event("a", output_tokens=1)], prices=prices, teams=teams)
    record_events(
        ledger,
        [
            event("b", output_tokens=1, timestamp=WHEN - timedelta(hours=1)),
            event("c", output_tokens=1, timestamp=WHEN + timedelta(hours=2)),
        ],
        prices=prices,
        teams=teams,
    )

    with ledger.session() as session:
        [row] = session.scalars(select(AgentSession)).all()
    assert row.first_seen == WHEN - timedelta(hours=1)
    assert row.last_seen == WHEN + timedelta(hours=2)


def test_money_exact_in_sums(ledger, prices, teams) -> None:
    batch = [
        event(f"k{index}", input_tokens=3, cache_write_5m_tokens=12304, output_tokens=550)
        for index in range(1000)
    ]

    record_events(ledger, batch, prices=prices, teams=teams)

    assert totals(ledger)["cost"] == Decimal("54.399")
