"""Panels and reports refreshing the daily rollup at once, on SQLite and on PostgreSQL.

Before each round a new request is written, so every panel and report that starts finds the
rollup behind and rebuilds it: they all race for the rollup's write transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dashboard.ledger_data import ADMIN_TOKEN, PERIOD, SPEND, fill_ledger, write_teams_file
from dashboard.test_dashboard_postgres import chart_series
from headstart.config import Settings
from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.models import Engineer, UsageRecord
from headstart.ledger.reports import (
    ReportQuery,
    ReportSettings,
    budget_report,
    efficiency_report,
    spend_report,
)
from headstart.ledger.teams import TeamMap
from headstart.server.app import build_app
from headstart.server.dashboard.filters import parse_filters
from headstart.server.dashboard.panels import PANELS, Context
from ledger.conftest import postgres_schema_url  # noqa: F401 (a fixture)

ROUNDS = 3
EXTRA = Decimal(1)
START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 3, 11, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    opened = open_ledger(ledger_url)
    try:
        fill_ledger(opened)
        yield opened
    finally:
        opened.close()


def _add_request(ledger: Ledger, number: int) -> None:
    """Write one more $1 request by dave (team mobile) on March 2, outside any session."""
    with ledger.session() as session:
        dave = session.query(Engineer).filter_by(identity="dave").one()
        session.add(
            UsageRecord(
                dedup_key=f"extra-{number}",
                source="test",
                tool="codex",
                model="gpt-5",
                timestamp=datetime(2026, 3, 2, 11, tzinfo=UTC),
                input_tokens=100,
                computed_cost=EXTRA,
                priced=True,
                engineer_id=dave.id,
                team_id=dave.team_id,
            )
        )


def _all_at_once(jobs: list[Callable[[], object]]) -> list[object]:
    """Run the jobs in threads that start together, and return their results or raise."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], object]) -> object:
        barrier.wait()
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return [future.result() for future in [pool.submit(run, job) for job in jobs]]


def test_panels_and_reports_refresh_the_rollup_at_once(ledger: Ledger, tmp_path: Path) -> None:
    budgets = TeamMap.load(write_teams_file(tmp_path / "teams.toml")).budgets
    settings = ReportSettings(bootstrap_resamples=100)
    filters = parse_filters({"start": "2026-03-01", "end": "2026-03-10"})
    query = ReportQuery(start=START, end=END)
    base = sum(sum(values) for values in SPEND.values())

    def panel(key: str) -> Callable[[], object]:
        def build() -> object:
            with ledger.session() as session:
                return PANELS[key](Context(session, filters, None, budgets, settings))

        return build

    def report(function: Callable[..., object], *args: object) -> Callable[[], object]:
        def build() -> object:
            with ledger.session() as session:
                return function(session, query, *args)

        return build

    for number in range(ROUNDS):
        _add_request(ledger, number)
        jobs = [panel(key) for key in PANELS]
        jobs += [report(spend_report), report(spend_report), report(efficiency_report)]
        jobs.append(report(budget_report, budgets))

        results = _all_at_once(jobs)

        panels = {built.key: built for built in results[: len(PANELS)]}
        spends = [results[len(PANELS)], results[len(PANELS) + 1]]
        expected = Decimal(str(base)) + EXTRA * (number + 1)
        assert [spend.cost for spend in spends] == [expected, expected]
        assert results[len(PANELS) + 2].overall.cost == expected
        assert list(panels) == list(PANELS)


def test_overview_runs_every_panel_in_parallel(
    ledger: Ledger, ledger_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        ledger_url=ledger_url,
        api_token=ADMIN_TOKEN,
        teams_file=write_teams_file(tmp_path / "teams.toml"),
        report_bootstrap_resamples=100,
    )
    client = TestClient(build_app(settings), base_url="http://127.0.0.1:8787")
    original = dict(PANELS)
    # Every panel waits here until all have started, so a page whose panels run one after
    # another fails. The timeout only ends a run that would otherwise hang.
    barrier = threading.Barrier(len(PANELS), timeout=60)

    def together(key: str) -> Callable[[Context], object]:
        def build(context: Context) -> object:
            barrier.wait()
            return original[key](context)

        return build

    for number in range(ROUNDS):
        _add_request(ledger, number)
        with pytest.MonkeyPatch.context() as patch:
            for key in original:
                patch.setitem(PANELS, key, together(key))
            page = client.get(f"/dashboard?{PERIOD}", headers={"x-headstart-token": ADMIN_TOKEN})

        assert page.status_code == 200, page.text
        spend = {
            item["name"]: item["values"] for item in chart_series(page.text, "spend")["series"]
        }
        assert spend["mobile"][1] == SPEND["mobile"][1] + float(EXTRA) * (number + 1)
