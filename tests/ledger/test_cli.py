from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect
from typer.testing import CliRunner

from headstart.cli.ledger import ledger_app
from headstart.ledger.db import alembic_config, create_ledger_engine
from headstart.ledger.errors import LedgerInputError

from .helpers import claude_line, write_jsonl

runner = CliRunner()


def test_migrate_reports_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.sqlite3'}"

    first = runner.invoke(ledger_app, ["migrate", "--database", url])
    second = runner.invoke(ledger_app, ["migrate", "--database", url])

    assert first.exit_code == 0, first.output
    assert "migrated from empty to revision 0004" in first.output
    assert "up to date (revision 0004)" in second.output


def test_migrate_upgrades_0001(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    engine = create_ledger_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")

    result = runner.invoke(ledger_app, ["migrate", "--database", url])

    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert result.exit_code == 0, result.output
    assert "migrated from 0001 to revision 0004" in result.output
    assert {"otlp_counter_series", "otlp_counter_increments"} <= tables


def test_ingest_then_summary(tmp_path: Path, prices_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    write_jsonl(
        tmp_path / "claude" / "projects" / "p" / "s.jsonl",
        [
            claude_line("m1", "r1", output_tokens=1_000_000),
            claude_line("m2", "r2", model="claude-opus-9", output_tokens=5),
        ],
    )
    with (tmp_path / "claude" / "projects" / "p" / "s.jsonl").open("a") as handle:
        handle.write("{broken\n")
    args = [
        "--database",
        url,
        "--prices",
        str(prices_file),
        "--claude-dir",
        str(tmp_path / "claude"),
        "--codex-home",
        str(tmp_path),
    ]

    ingested = runner.invoke(ledger_app, ["ingest", *args])
    again = runner.invoke(ledger_app, ["ingest", *args])
    summary = runner.invoke(ledger_app, ["summary", "--database", url])

    assert ingested.exit_code == 0, ingested.output
    assert "requests: 2 new, 0 updated; 0 repeats of a request already counted" in (
        ingested.output
    )
    assert "1 × corrupt or truncated JSON line" in ingested.output
    assert "unpriced: 1 request of claude-opus-9 (1)" in ingested.output
    assert "unchanged: 1" in again.output
    assert summary.exit_code == 0, summary.output
    assert "15.0000" in summary.output
    assert "claude-opus-9" in summary.output
    assert "add a price for 'claude-opus-9'" in summary.output
    assert "claude_code claude-opus-9: 1 request, 5 tokens; fix:" in summary.output
    # Piped, as here, each row stays on one line with every column.
    opus_row = next(line for line in summary.output.splitlines() if "claude-opus-9" in line and "│" in line)
    assert opus_row.count("│") == 10
    assert "+ unpriced" in opus_row


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["ingest", "--claude-dir", "/nonexistent/claude"],
            "--claude-dir '/nonexistent/claude' not found",
        ),
        (["ingest", "--prices", "/nonexistent/prices.toml"], "'/nonexistent/prices.toml'"),
        (["migrate", "--database", "mysql://h/db"], "unsupported ledger database 'mysql://h/db'"),
    ],
)
def test_errors_exit_nonzero(tmp_path: Path, args: list[str], message: str) -> None:
    env = {
        **os.environ,
        "HEADSTART_DATA_DIR": str(tmp_path),
        "HEADSTART_CONFIG": os.devnull,
    }
    done = subprocess.run(
        [sys.executable, "-c", "from headstart.cli import main; main()", "ledger", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert done.returncode == 2
    assert message in done.stderr


def test_ingest_with_no_logs_names_where_it_looked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{tmp_path / 'l.sqlite3'}"

    environment = {"HOME": str(home), "CLAUDE_CONFIG_DIR": "", "CODEX_HOME": ""}

    result = CliRunner().invoke(
        ledger_app, ["ingest", "--database", url], env={**environment, "GEMINI_TELEMETRY_OUTFILE": ""}
    )

    assert result.exit_code == 0, result.output
    assert "no agent logs found; looked in:" in result.stderr
    assert f"{home}/.claude/projects" in result.stderr
    assert f"{home}/.codex/sessions" in result.stderr
    assert "--claude-dir" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["summary"],
        ["push", "--server", "http://127.0.0.1:9"],
        ["assign-teams", "--teams", "{teams}"],
    ],
)
def test_missing_ledger_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    teams = tmp_path / "teams.toml"
    teams.write_text('[teams.core]\nmembers = ["ada@example.com"]\n')
    command = [part.format(teams=teams) for part in command]
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    mistyped = tmp_path / "no-such-dir" / "ledger.sqlite3"

    absolute = runner.invoke(ledger_app, [*command, "--database", f"sqlite:///{mistyped}"])
    relative = runner.invoke(ledger_app, [*command, "--database", "sqlite:///tmp/rel.db"])

    assert isinstance(absolute.exception, LedgerInputError)
    assert f"no ledger at {str(mistyped)!r}" in str(absolute.exception)
    assert not mistyped.parent.exists()
    assert isinstance(relative.exception, LedgerInputError)
    assert "no ledger at 'tmp/rel.db'" in str(relative.exception)
    assert list(work.iterdir()) == []
