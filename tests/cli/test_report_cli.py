"""`headstart report …` over the scenario ledger of tests/ledger/reports/scenario.py."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from tests.ledger.reports.scenario import sqlite_scenario
from typer.testing import CliRunner

from headstart.cli.report import report_app
from headstart.errors import InputError

runner = CliRunner()


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url, _teams = sqlite_scenario(tmp_path_factory.mktemp("scenario"))
    return url


def test_sessions_as_csv(ledger_url: str) -> None:
    result = runner.invoke(
        report_app,
        [
            "sessions",
            "--database",
            ledger_url,
            "--class",
            "wasteful",
            "--unit",
            "session",
            "--format",
            "csv",
        ],
    )

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted(row["session"] for row in rows) == ["s10", "s6", "s7", "s8"]
    loop = next(row for row in rows if row["session"] == "s7")
    assert loop["reasons"] == "loop: the same failing tool call (Bash:0a1b2c3d4e5f) failed 3 times"


def test_verdicts_as_json(ledger_url: str) -> None:
    result = runner.invoke(
        report_app,
        [
            "verdicts",
            "--database",
            ledger_url,
            "--start",
            "2024-03-01",
            "--end",
            "2024-04-16",
            "--format",
            "json",
        ],
    )

    assert result.exit_code == 0, result.output
    verdicts = {item["tool"]: item["verdict"] for item in json.loads(result.stdout)["tools"]}
    assert verdicts == {"claude_code": "keep", "codex": "cut", "cursor": "scope"}


def test_spend_table_and_bad_period(ledger_url: str) -> None:
    table = runner.invoke(
        report_app, ["spend", "--database", ledger_url, "--by", "tool", "--every", "month"]
    )
    bad = runner.invoke(
        report_app,
        ["spend", "--database", ledger_url, "--start", "2024-04-01", "--end", "2024-03-01"],
    )

    csv_rows = runner.invoke(
        report_app,
        ["spend", "--database", ledger_url, "--by", "tool", "--every", "month", "--format", "csv"],
    )

    assert table.exit_code == 0, table.output
    assert "claude_code" in table.stdout
    assert "2024-03-01" in table.stdout
    # Dollars and counts are written for reading in the table, and kept plain in CSV.
    assert re.search(r"\$\d[\d,]*\.\d{2,4}\b", table.stdout)
    assert "$" not in csv_rows.stdout
    assert bad.exit_code != 0
    assert "is not before end" in str(bad.exception)


def test_analyze_writes_outcomes(tmp_path: Path) -> None:
    url, _teams = sqlite_scenario(tmp_path)

    result = runner.invoke(report_app, ["analyze", "--database", url, "--format", "json"])
    text = runner.invoke(report_app, ["analyze", "--database", url])
    rows = runner.invoke(report_app, ["analyze", "--database", url, "--format", "csv"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["sessions"], summary["tasks"], summary["without_git"]) == (10, 1, 0)
    assert text.exit_code == 0, text.output
    classes = ", ".join(f"{name} {count}" for name, count in sorted(summary["by_class"].items()))
    assert text.stdout == f"analyzed 10 sessions and 1 task; work units by class: {classes}\n"
    assert rows.exit_code != 0
    assert "use --format table or json" in str(rows.exception)


def test_missing_ledger_refused(tmp_path: Path) -> None:
    mistyped = tmp_path / "no-such-dir" / "ledger.sqlite3"

    result = runner.invoke(report_app, ["spend", "--database", f"sqlite:///{mistyped}"])

    assert isinstance(result.exception, InputError)
    assert f"no ledger at {str(mistyped)!r}" in str(result.exception)
    assert not mistyped.parent.exists()
