"""An ingest starts parsing from checkpoints read without SQLAlchemy, and resumes as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from headstart.cli.ledger import ledger_app
from headstart.ledger.db import open_ledger
from headstart.ledger.discovery import LocalSources, discover
from headstart.ledger.local import ingest_local
from headstart.ledger.models import UsageRecord
from headstart.ledger.sources.files import load_checkpoints
from headstart.ledger.unchanged import StoredCheckpoint, read_checkpoints

from .helpers import claude_line, write_jsonl

runner = CliRunner()


def ingest(url: str, root: Path, *extra: str) -> dict:
    arguments = ["ingest", "--database", url, "--claude-dir", str(root), "--codex-home", str(root)]
    result = runner.invoke(ledger_app, [*arguments, *extra, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_stored_checkpoints_read_as_sqlalchemy_reads_them(tmp_path: Path, prices, teams) -> None:
    logs = tmp_path / "logs"
    write_jsonl(logs / "projects" / "p" / "a.jsonl", [claude_line("m1", "r1", output_tokens=5)])
    # A pending MCP call leaves reader state in the checkpoint.
    mcp_call = {"type": "tool_use", "id": "toolu_1", "name": "mcp__headstart__brief", "input": {}}
    write_jsonl(logs / "projects" / "p" / "b.jsonl", [claude_line("m2", "r2", content=[mcp_call])])
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    ledger = open_ledger(url)
    ingest_local(ledger, LocalSources(claude_dirs=[logs]), prices=prices, teams=teams)
    files = discover(LocalSources(claude_dirs=[logs]))

    stored = read_checkpoints(url, files)
    with ledger.session() as session:
        expected = load_checkpoints(session, [path for _, path in files])
    ledger.close()

    assert stored is not None and stored.indexed
    assert set(stored.rows) == set(expected)
    assert len(expected) == 2
    for path, row in expected.items():
        assert stored.rows[path] == StoredCheckpoint(
            *(getattr(row, f) for f in StoredCheckpoint._fields)
        )
    assert any(row.state.get("mcp_tool_uses") for row in stored.rows.values())


def test_read_checkpoints_of_new_and_unreadable_ledgers(tmp_path: Path) -> None:
    files = [("claude_code", tmp_path / "a.jsonl")]
    (tmp_path / "empty.sqlite3").touch()

    missing = read_checkpoints(f"sqlite:///{tmp_path / 'missing.sqlite3'}", files)
    empty = read_checkpoints(f"sqlite:///{tmp_path / 'empty.sqlite3'}", files)

    assert missing is not None
    assert missing.rows == {}
    assert not missing.indexed
    assert not (tmp_path / "missing.sqlite3").exists()  # reading does not create the file
    assert empty is not None and empty.rows == {}
    assert read_checkpoints("postgresql+psycopg://postgres@127.0.0.1:5432/test", files) is None


@pytest.mark.parametrize("workers", ["0", "2"])
def test_cli_resumes_grown_file(tmp_path: Path, workers: str) -> None:
    logs = tmp_path / "logs"
    log = write_jsonl(
        logs / "projects" / "p" / "s.jsonl",
        [claude_line("m1", "r1", output_tokens=5), claude_line("m2", "r2", output_tokens=7)],
    )
    write_jsonl(logs / "projects" / "p" / "other.jsonl", [claude_line("m9", "r9", output_tokens=1)])
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    first = ingest(url, logs, "--workers", workers)
    size = log.stat().st_size

    added = json.dumps(claude_line("m3", "r3", output_tokens=11)) + "\n"
    with log.open("a") as handle:
        handle.write(added)
    second = ingest(url, logs, "--workers", workers)

    ledger = open_ledger(url)
    with ledger.session() as session:
        keys = sorted(session.scalars(select(UsageRecord.dedup_key)))
    ledger.close()
    assert first["inserted"] == 3
    assert (second["inserted"], second["files_read"], second["files_unchanged"]) == (1, 1, 1)
    assert second["bytes_read"] == log.stat().st_size - size == len(added.encode())
    assert keys == sorted(f"claude_code:msg:m{n}" for n in (1, 2, 3, 9))
