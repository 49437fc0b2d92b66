"""Stored requests are priced again once their model has a price, and reports name the rest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from headstart.cli.ledger import ledger_app
from headstart.ledger.db import Ledger
from headstart.ledger.ingest import record_events
from headstart.ledger.pricing import PriceBook
from headstart.ledger.reports import ReportSettings, analyze_outcomes
from headstart.ledger.reports.budgets import budget_report
from headstart.ledger.reports.efficiency import efficiency_report
from headstart.ledger.reports.query import ReportQuery
from headstart.ledger.reports.spend import spend_report
from headstart.ledger.reprice import reprice
from headstart.ledger.teams import TeamMap

from .conftest import ILLUSTRATIVE_PRICES
from .helpers import records, usage_event

NEW_MODEL = """
[models."claude-opus-9"]
input_mtok = 5
output_mtok = 25
"""


def unpriced_and_priced() -> list:
    return [
        usage_event(
            dedup_key="new",
            request_id="r-new",
            model="claude-opus-9",
            input_tokens=1_000_000,
            cache_read_tokens=0,
            cache_write_5m_tokens=0,
            cache_write_1h_tokens=0,
            output_tokens=100_000,
        ),
        usage_event(dedup_key="known", request_id="r-known"),
    ]


def price_book(tmp_path: Path, text: str, name: str = "prices.toml") -> PriceBook:
    path = tmp_path / name
    path.write_text(text)
    return PriceBook(path)


def test_reprice_prices_request_once_model_has_price(
    ledger: Ledger, prices: PriceBook, tmp_path: Path
) -> None:
    record_events(ledger, unpriced_and_priced(), prices=prices, teams=TeamMap())
    with ledger.session() as session:
        before = spend_report(session, ReportQuery())

    first = reprice(ledger, price_book(tmp_path, ILLUSTRATIVE_PRICES + NEW_MODEL))
    again = reprice(ledger, price_book(tmp_path, ILLUSTRATIVE_PRICES + NEW_MODEL))

    by_key = {row.dedup_key: row for row in records(ledger)}
    with ledger.session() as session:
        after = spend_report(session, ReportQuery())
    assert (first.examined, first.changed, first.newly_priced) == (1, 1, 1)
    assert first.unpriced_models == {}
    assert (again.examined, again.changed) == (0, 0)
    # 1M input tokens at $5 and 100k output tokens at $25 per million.
    assert by_key["new"].computed_cost == Decimal("7.5")
    assert by_key["new"].priced is True
    assert by_key["new"].pricing_note is None
    assert [item.model for item in before.unpriced] == ["claude-opus-9"]
    assert "headstart ledger reprice" in before.warnings[0]
    assert after.unpriced == []
    assert after.warnings == []
    assert after.cost == before.cost + Decimal("7.5")


def test_reprice_all_applies_a_changed_rate(
    ledger: Ledger, prices: PriceBook, tmp_path: Path
) -> None:
    record_events(ledger, unpriced_and_priced(), prices=prices, teams=TeamMap())
    doubled = ILLUSTRATIVE_PRICES.replace("input_mtok = 3\n", "input_mtok = 6\n", 1)

    only_unpriced = reprice(ledger, price_book(tmp_path, doubled))
    everything = reprice(ledger, price_book(tmp_path, doubled, "doubled.toml"), everything=True)

    known = next(row for row in records(ledger) if row.dedup_key == "known")
    assert (only_unpriced.examined, only_unpriced.changed) == (1, 0)
    assert only_unpriced.unpriced_models == {"claude-opus-9": 1}
    assert (everything.examined, everything.changed) == (2, 1)
    # 3 uncached input tokens now at $6 per million instead of $3: 0.006564 before.
    assert known.computed_cost == Decimal("0.006573")
    assert "doubled.toml" in known.price_version


def test_efficiency_report_names_unpriced(ledger: Ledger, prices: PriceBook) -> None:
    record_events(ledger, unpriced_and_priced(), prices=prices, teams=TeamMap())

    with ledger.session() as session:
        report = efficiency_report(session, ReportQuery())

    assert [item.model for item in report.unpriced] == ["claude-opus-9"]
    assert report.warnings[0].startswith("unpriced: 1 request of claude_code claude-opus-9")


def test_budget_report_names_unpriced(ledger: Ledger, prices: PriceBook) -> None:
    record_events(ledger, unpriced_and_priced(), prices=prices, teams=TeamMap())

    with ledger.session() as session:
        report = budget_report(session, ReportQuery(), {})

    assert [item.model for item in report.unpriced] == ["claude-opus-9"]
    assert "headstart ledger reprice" in report.warnings[0]


def test_spend_report_names_unpriced_only_in_its_period(ledger: Ledger, prices: PriceBook) -> None:
    record_events(ledger, unpriced_and_priced(), prices=prices, teams=TeamMap())

    with ledger.session() as session:
        inside = spend_report(session, ReportQuery(end=datetime(2026, 11, 3, tzinfo=UTC)))
        after = spend_report(session, ReportQuery(start=datetime(2026, 11, 3, tzinfo=UTC)))
        other_model = spend_report(session, ReportQuery(model="test-sonnet"))

    assert [(item.tool, item.requests, item.tokens) for item in inside.unpriced] == [
        ("claude_code", 1, 1_100_000)
    ]
    assert inside.warnings[0].startswith("unpriced: 1 request of claude_code claude-opus-9")
    assert after.unpriced == []
    assert other_model.unpriced == []


def test_cli_reprice(tmp_path: Path, prices: PriceBook) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    from headstart.ledger.db import open_ledger

    ledger = open_ledger(url)
    record_events(ledger, unpriced_and_priced(), prices=prices, teams=TeamMap())
    ledger.close()
    (tmp_path / "prices.toml").write_text(ILLUSTRATIVE_PRICES + NEW_MODEL)
    runner = CliRunner()

    still = runner.invoke(ledger_app, ["reprice", "--database", url])
    done = runner.invoke(
        ledger_app,
        ["reprice", "--database", url, "--prices", str(tmp_path / "prices.toml"), "--json"],
    )
    missing = runner.invoke(
        ledger_app, ["reprice", "--database", f"sqlite:///{tmp_path / 'no.db'}"]
    )

    assert still.exit_code == 0, still.output
    assert "still unpriced: claude-opus-9 (1)" in still.output
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["newly_priced"] == 1
    assert missing.exit_code != 0
    assert "no ledger at" in str(missing.exception)
    assert not (tmp_path / "no.db").exists()


def test_reprice_says_when_analyzed_outcomes_hold_old_costs(
    ledger: Ledger, prices: PriceBook, tmp_path: Path
) -> None:
    record_events(ledger, unpriced_and_priced(), prices=prices, teams=TeamMap())
    new_prices = price_book(tmp_path, ILLUSTRATIVE_PRICES + NEW_MODEL)
    url = str(ledger.engine.url)

    before_analysis = reprice(ledger, prices)
    with ledger.session() as session:
        analyze_outcomes(session, settings=ReportSettings(), now=datetime(2026, 12, 1, tzinfo=UTC))
    after_analysis = CliRunner().invoke(
        ledger_app, ["reprice", "--database", url, "--prices", str(tmp_path / "prices.toml")]
    )
    nothing_changed = reprice(ledger, new_prices)

    assert before_analysis.changed == 0
    assert not before_analysis.outcomes_stale
    assert after_analysis.exit_code == 0, after_analysis.output
    assert "priced 1 request again: 1 changed" in after_analysis.output
    assert "run it again to update them" in after_analysis.output
    assert not nothing_changed.outcomes_stale
