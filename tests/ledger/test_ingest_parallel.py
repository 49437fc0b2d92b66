"""Parsing in worker processes, the SQLite write path and the CLI's start-up leave results unchanged."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from headstart.cli.app import _named_command
from headstart.cli.ledger import ledger_app
from headstart.ledger import usage_writes
from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.ingest import record_events
from headstart.ledger.local import LocalSources, ingest_local
from headstart.ledger.report import IngestReport
from headstart.ledger.sources import parallel
from headstart.ledger.sources.built import build_event, event_parts
from headstart.ledger.sources.cursors import FileCursor
from headstart.ledger.sources.parallel import default_workers
from headstart.ledger.usage_rows import UsageRows

from .helpers import claude_line, usage_event, write_jsonl


def make_tree(root: Path) -> None:
    """Six transcripts: streaming snapshots, a subagent replay, corrupt and synthetic lines."""
    for index in range(6):
        lines = []
        for n in range(30):
            message = f"m{index}-{n}"
            lines.append(
                claude_line(message, f"r{index}-{n}", session=f"s{index}", output_tokens=1)
            )
            lines.append(
                claude_line(message, f"r{index}-{n}", session=f"s{index}", output_tokens=40 + n)
            )
        lines.append(claude_line("syn", None, model="<synthetic>", session=f"s{index}"))
        path = write_jsonl(root / "projects" / f"p{index}" / f"s{index}.jsonl", lines)
        with path.open("a") as handle:
            handle.write('{"type":"assistant","message":{"id":"torn"\n')
    # A subagent replays a parent's response under a new request id: counted once.
    write_jsonl(
        root / "projects" / "p0" / "s0" / "subagents" / "agent-1.jsonl",
        [claude_line("m0-3", "replay-1", session="s0", sidechain=True, output_tokens=43)],
    )


def dump(ledger: Ledger) -> dict[str, list[Any]]:
    """Every row of the ledger's tables, without the times the ingest ran at."""
    path = ledger.engine.url.database
    connection = sqlite3.connect(path)
    tables = {}
    for table in ("usage_records", "agent_sessions", "engineers", "ingest_checkpoints"):
        columns = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
        kept = [c for c in columns if c not in ("ingested_at", "updated_at", "created_at")]
        rows = connection.execute(f"SELECT {', '.join(kept)} FROM {table} ORDER BY 1").fetchall()
        tables[table] = rows
    connection.close()
    return tables


def ingest(ledger: Ledger, root: Path, prices, teams, workers: int):
    sources = LocalSources(claude_dirs=[root], codex_homes=[root])
    return ingest_local(ledger, sources, prices=prices, teams=teams, workers=workers)


def test_workers_give_the_serial_result(tmp_path: Path, prices, teams) -> None:
    make_tree(tmp_path / "tree")
    serial = open_ledger(f"sqlite:///{tmp_path / 'serial.sqlite3'}")
    parallel = open_ledger(f"sqlite:///{tmp_path / 'parallel.sqlite3'}")
    try:
        serial_report = ingest(serial, tmp_path / "tree", prices, teams, workers=0)
        parallel_report = ingest(parallel, tmp_path / "tree", prices, teams, workers=2)
        again = ingest(parallel, tmp_path / "tree", prices, teams, workers=2)

        assert parallel_report.model_dump() == serial_report.model_dump()
        assert parallel_report.inserted == 6 * 30
        assert parallel_report.skipped_total == 12
        assert dump(parallel) == dump(serial)
        assert (again.files_read, again.files_unchanged, again.inserted) == (0, 7, 0)
    finally:
        serial.close()
        parallel.close()


def test_workers_read_only_what_was_added(tmp_path: Path, prices, teams) -> None:
    make_tree(tmp_path / "tree")
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}")
    try:
        ingest(ledger, tmp_path / "tree", prices, teams, workers=2)
        write_jsonl(
            tmp_path / "tree" / "projects" / "p1" / "s1.jsonl",
            [claude_line("late", "r-late", session="s1", output_tokens=7)],
        )

        report = ingest(ledger, tmp_path / "tree", prices, teams, workers=2)

        assert (report.files_read, report.inserted, report.duplicates) == (1, 1, 0)
        assert report.skipped_total == 0  # the torn line is not read twice
    finally:
        ledger.close()


def test_default_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = tmp_path / "small.jsonl"
    small.write_text("{}\n")
    cursors = [FileCursor(small, "claude_code", small.stat()) for _ in range(3)]
    big = [
        FileCursor(small, "claude_code", os.stat_result((0,) * 6 + (5_000_000,) + (0,) * 3))
        for _ in range(3)
    ]

    # Test runners start threads of their own; the count is what default_workers looks at.
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1)
    assert default_workers(cursors) == 0  # too little to read
    assert default_workers(big[:1]) == 0  # one file
    if sys.platform == "linux":
        assert default_workers(big) == min(len(os.sched_getaffinity(0)), 3, 4)

    monkeypatch.setattr(parallel.threading, "active_count", lambda: 2)
    assert default_workers(big) == 0  # forking a threaded process is unsafe


def test_build_event_matches_validation() -> None:
    validated = usage_event(reported_cost_usd=Decimal("0.25"))

    fields, fields_set = pickle.loads(pickle.dumps(event_parts(validated)))
    built = build_event(fields, fields_set)

    assert built == validated
    assert built.model_dump() == validated.model_dump()
    assert built.model_fields_set == validated.model_fields_set
    with pytest.raises(ValueError, match=r"missing fields \['attributes'\]"):
        build_event({k: v for k, v in validated.__dict__.items() if k != "attributes"})


def sqlite_dump(ledger: Ledger) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(ledger.engine.url.database)
    columns = [row[1] for row in connection.execute("PRAGMA table_info(usage_records)")]
    kept = ", ".join(c for c in columns if c != "ingested_at")
    rows = connection.execute(f"SELECT {kept} FROM usage_records ORDER BY id").fetchall()
    connection.close()
    return rows


def test_sqlite_insert_stores_what_sqlalchemy_stores(
    tmp_path: Path, prices, teams, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [
        usage_event(),
        usage_event(
            dedup_key="claude_code:msg:b",
            request_id=None,
            reported_cost_usd=Decimal("0.123456789"),
            timestamp=datetime(2026, 11, 2, 12, 0, tzinfo=timezone(timedelta(hours=2))),
            model="claude-opus-9",  # unpriced: NULL cost and a note
            engineer=None,
            attributes={},
        ),
    ]
    fast = open_ledger(f"sqlite:///{tmp_path / 'fast.sqlite3'}")
    record_events(fast, events, prices=prices, teams=teams)
    fast_rows = sqlite_dump(fast)
    fast.close()

    # The path PostgreSQL takes: SQLAlchemy's INSERT … RETURNING with its own conversions.
    monkeypatch.setattr(usage_writes, "_bulk_sqlite", lambda session: False)
    reference = open_ledger(f"sqlite:///{tmp_path / 'reference.sqlite3'}")
    record_events(reference, events, prices=prices, teams=teams)
    reference_rows = sqlite_dump(reference)
    reference.close()

    assert len(fast_rows) == 2
    assert fast_rows == reference_rows


def test_sqlite_insert_returns_only_its_rows(sqlite_ledger: Ledger, prices, teams) -> None:
    # Another writer stored request "b" after this one looked: the INSERT skips it.
    record_events(
        sqlite_ledger, [usage_event(dedup_key="b", request_id="r-b")], prices=prices, teams=teams
    )
    rows = UsageRows({}, {}, {}, {}, datetime.now(UTC))
    events = [usage_event(dedup_key=key, request_id=f"r-{key}") for key in "abc"]
    values = [rows.sqlite_values(e, prices.price(e)) for e in events]

    with sqlite_ledger.session() as session:
        inserted = usage_writes._insert_sqlite(session, values, [e.dedup_key for e in events])

    assert inserted == {"a", "c"}


def test_cli_ingest_prints_json(tmp_path: Path, prices_file: Path) -> None:
    make_tree(tmp_path / "tree")
    url = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    arguments = ["ingest", "--database", url, "--claude-dir", str(tmp_path / "tree")]
    arguments += ["--codex-home", str(tmp_path / "tree"), "--prices", str(prices_file)]

    result = CliRunner().invoke(ledger_app, [*arguments, "--json", "--workers", "2"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["files_read"], report["inserted"]) == (7, 180)


def test_ledger_commands_skip_the_index_store() -> None:
    # `headstart ledger …` registers only its own group, so LanceDB and the server stay unloaded.
    script = (
        "import sys\n"
        "sys.argv = ['headstart', 'ledger', 'ingest', '--help']\n"
        "from headstart.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('lancedb', 'fastapi', 'torch', 'sentence_transformers', 'numpy')\n"
        "print('LOADED', sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )

    assert "--workers" in done.stdout
    assert "LOADED []" in done.stdout
    assert _named_command(["ledger", "ingest"]) == "ledger"
    assert _named_command(["index", "."]) == "index"
    assert _named_command(["--help"]) is None
    assert _named_command([]) is None


def _niceness_reader(cursor: FileCursor, report: Any) -> Any:
    cursor.state["niceness"] = os.nice(0)
    cursor.offset = cursor.stat.st_size
    return iter(())


@pytest.mark.parametrize(("load", "expected"), [(0.2, parallel.WORKER_NICENESS), (50.0, 0)])
def test_worker_niceness_by_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load: float, expected: int
) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    path = tmp_path / "a.log"
    path.write_text("x\n")
    cursor = FileCursor(path, "probe", path.stat())
    own = os.nice(0)

    reads = parallel.ParallelReads([cursor], {"probe": _niceness_reader}, IngestReport(), 1)
    try:
        done = [(done_cursor, list(events)) for done_cursor, events in reads]
    finally:
        reads.close()

    assert done[0][0].state["niceness"] == own + expected
    assert os.nice(0) == own  # the writing process keeps its priority
