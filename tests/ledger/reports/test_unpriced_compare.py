"""The verdict and before/after reports name the requests of unpriced models they count at $0.

The scenario ledger of scenario.py gets three more requests, of models the price book does not
know, and is analyzed again:

| requests | who | tool        | when                     | model         | session |
|----------|-----|-------------|--------------------------|---------------|---------|
| 2        | ada | claude_code | March 5, 11:00 and 11:30 | claude-opus-9 | s2      |
| 1        | bob | codex       | March 20, 9:00           | gpt-9-mystery | none    |
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from tests.conftest import GitRepo
from tests.ledger.conftest import ILLUSTRATIVE_PRICES
from tests.ledger.reports.scenario import (
    BOB,
    NOW,
    SETTINGS,
    build_ledger,
    build_repository,
    march,
    usage,
)
from typer.testing import CliRunner

from headstart.cli.report import report_app
from headstart.config import Settings
from headstart.ledger.db import open_ledger
from headstart.ledger.ingest import record_events
from headstart.ledger.pricing import PriceBook
from headstart.ledger.reports import (
    Cohort,
    ReportQuery,
    analyze_outcomes,
    brief_cohorts,
    compare_report,
    verdict_report,
)
from headstart.ledger.reports.compare import CompareReport
from headstart.ledger.reports.unpriced import UnpricedNotice
from headstart.server.app import build_app

ALL = ReportQuery(start=march(1, 0), end=datetime(2024, 4, 16, tzinfo=UTC))
BEFORE = Cohort(label="before", start=march(1, 0), end=march(8, 0))
AFTER = Cohort(label="after", start=march(8, 0), end=march(15, 0))
OPUS = ("claude_code", "claude-opus-9", 2, 1_000_000)
MYSTERY = ("codex", "gpt-9-mystery", 1, 300_000)
ADMIN = "admin-token"
runner = CliRunner()


@pytest.fixture(scope="module")
def unpriced_url(scenario_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Build the scenario with the unpriced requests above, on SQLite or PostgreSQL."""
    root = tmp_path_factory.mktemp("unpriced")
    (root / "repo").mkdir()
    repo = GitRepo(root / "repo")
    repo.git("init", "-q", "-b", "main")
    build_repository(repo)
    prices = root / "prices.toml"
    prices.write_text(ILLUSTRATIVE_PRICES)

    ledger = open_ledger(scenario_url)
    try:
        teams = build_ledger(ledger, repo, prices, root)
        unknown = [
            usage("s2", march(5, 11), 500_000, model="claude-opus-9", cwd=repo.path, number=2),
            usage("s2", march(5, 11, 30), 500_000, model="claude-opus-9", cwd=repo.path, number=3),
            usage(
                None,
                march(20),
                300_000,
                engineer=BOB,
                tool="codex",
                model="gpt-9-mystery",
                cwd=repo.path,
            ),
        ]
        record_events(ledger, unknown, prices=PriceBook(prices), teams=teams)
        with ledger.session() as session:
            analyze_outcomes(session, settings=SETTINGS, now=NOW)
    finally:
        ledger.close()
    yield scenario_url


def _named(report: UnpricedNotice) -> list[tuple[str, str | None, int, int]]:
    return [(item.tool, item.model, item.requests, item.tokens) for item in report.unpriced]


def _compare(url: str, query: ReportQuery, before: Cohort, after: Cohort) -> CompareReport:
    ledger = open_ledger(url, create=False)
    try:
        with ledger.session() as session:
            return compare_report(session, query, before, after)
    finally:
        ledger.close()


def test_compare_names_unpriced_in_cohorts_only(unpriced_url: str) -> None:
    dated = _compare(unpriced_url, ALL, BEFORE, AFTER)
    briefed = _compare(unpriced_url, ALL, *brief_cohorts())
    web = _compare(unpriced_url, ALL.model_copy(update={"team": "web"}), *brief_cohorts())

    # The request of March 20 is in the period, but in neither dated cohort.
    assert _named(dated) == [OPUS]
    assert _named(briefed) == [OPUS, MYSTERY]
    assert _named(web) == [MYSTERY]
    expected = (
        "unpriced: 2 requests of claude_code claude-opus-9 (1,000,000 tokens), counted here at "
        f"$0; {dated.unpriced[0].fix}"
    )
    assert [item for item in dated.warnings if item.startswith("unpriced:")] == [expected]
    assert "`headstart ledger reprice`" in dated.unpriced[0].fix
    assert dated.unpriced[0].fix.endswith(
        "then run `headstart report analyze`, which stores the costs this report reads"
    )
    # s1 to s4 cost $42 as before, since s2's unpriced requests count at $0.
    assert dated.before.cost == 42.0


def test_verdicts_name_unpriced_in_period(unpriced_url: str) -> None:
    ledger = open_ledger(unpriced_url, create=False)
    try:
        with ledger.session() as session:
            whole = verdict_report(session, ALL)
            late = verdict_report(session, ALL.model_copy(update={"start": march(16, 0)}))
            early = verdict_report(session, ALL.model_copy(update={"end": march(5, 0)}))
    finally:
        ledger.close()

    assert _named(whole) == [OPUS, MYSTERY]
    assert len(whole.warnings) == 2
    assert whole.warnings[1].startswith(
        "unpriced: 1 request of codex gpt-9-mystery (300,000 tokens), counted here at $0; "
        "add a price for 'gpt-9-mystery'"
    )
    assert _named(late) == [MYSTERY]
    assert _named(early) == []
    assert early.warnings == []


def test_cli_compare_warns_with_fix(unpriced_url: str) -> None:
    table = runner.invoke(
        report_app,
        [
            "compare",
            "--database",
            unpriced_url,
            "--before",
            "2024-03-01..2024-03-08",
            "--after",
            "2024-03-08..2024-03-15",
        ],
    )
    as_json = runner.invoke(
        report_app, ["compare", "--database", unpriced_url, "--brief", "--format", "json"]
    )

    assert table.exit_code == 0, table.output
    assert (
        "warning: unpriced: 2 requests of claude_code claude-opus-9 (1,000,000 tokens), "
        "counted here at $0; add a price for 'claude-opus-9'"
    ) in table.stderr
    assert "`headstart report analyze`" in table.stderr
    assert "gpt-9-mystery" not in table.stderr
    assert as_json.exit_code == 0, as_json.output
    named = [
        (item["tool"], item["model"], item["requests"], item["tokens"])
        for item in json.loads(as_json.stdout)["unpriced"]
    ]
    assert named == [OPUS, MYSTERY]


def test_cli_verdicts_warn_with_fix(unpriced_url: str) -> None:
    period = ["--start", "2024-03-01", "--end", "2024-04-16"]
    table = runner.invoke(report_app, ["verdicts", "--database", unpriced_url, *period])
    as_json = runner.invoke(
        report_app, ["verdicts", "--database", unpriced_url, *period, "--format", "json"]
    )

    assert table.exit_code == 0, table.output
    warnings = [line for line in table.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert warnings[0].startswith("warning: unpriced: 2 requests of claude_code claude-opus-9")
    assert "`headstart ledger reprice`" in warnings[1]
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.stdout)
    assert [(item["model"], item["requests"]) for item in body["unpriced"]] == [
        ("claude-opus-9", 2),
        ("gpt-9-mystery", 1),
    ]
    assert body["warnings"][0].startswith("unpriced: 2 requests of claude_code claude-opus-9")


def test_cli_csv_keeps_warnings_off_stdout(unpriced_url: str) -> None:
    period = ["--start", "2024-03-01", "--end", "2024-04-16"]
    result = runner.invoke(
        report_app, ["verdicts", "--database", unpriced_url, *period, "--format", "csv"]
    )

    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert "warning" not in result.stdout
    assert next(csv.reader(io.StringIO(result.stdout)))[:2] == ["kind", "key"]


def test_rest_reports_carry_unpriced(
    unpriced_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"), ledger_url=unpriced_url, api_token=ADMIN
    )
    headers = {"Authorization": f"Bearer {ADMIN}"}
    period = {"start": "2024-03-01T00:00:00Z", "end": "2024-04-16T00:00:00Z"}

    with TestClient(build_app(settings)) as client:
        verdicts = client.get("/v1/reports/verdicts", params=period, headers=headers)
        compare = client.get(
            "/v1/reports/compare",
            params={
                "before_start": "2024-03-01T00:00:00Z",
                "before_end": "2024-03-08T00:00:00Z",
                "after_start": "2024-03-08T00:00:00Z",
                "after_end": "2024-03-15T00:00:00Z",
            },
            headers=headers,
        )

    assert verdicts.status_code == 200, verdicts.text
    assert [item["model"] for item in verdicts.json()["unpriced"]] == [
        "claude-opus-9",
        "gpt-9-mystery",
    ]
    assert compare.status_code == 200, compare.text
    assert [(item["model"], item["requests"]) for item in compare.json()["unpriced"]] == [
        ("claude-opus-9", 2)
    ]
