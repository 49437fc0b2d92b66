"""A first large ingest builds the usage indexes at its end, and none is ever left missing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from headstart.ledger import bulk_load
from headstart.ledger.bulk_load import deferred_indexes, secondary_indexes
from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.local import LocalSources, ingest_local

from .helpers import claude_line, write_jsonl
from .test_ingest_parallel import dump, make_tree

SECONDARY = sorted(str(index.name) for index in secondary_indexes())


def usage_indexes(ledger: Ledger) -> dict[str, str]:
    """Name → CREATE statement of each index on usage_records."""
    connection = sqlite3.connect(ledger.engine.url.database)
    rows = connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_records'"
    ).fetchall()
    connection.close()
    return dict(rows)


def ingest(ledger: Ledger, root: Path, prices, teams, workers: int = 0):
    sources = LocalSources(claude_dirs=[root], codex_homes=[root])
    return ingest_local(ledger, sources, prices=prices, teams=teams, workers=workers)


def test_secondary_indexes_are_non_unique() -> None:
    assert SECONDARY == [
        "ix_usage_records_ingested_at",
        "ix_usage_records_session",
        "ix_usage_records_timestamp",
        "ix_usage_records_tool_model",
        "ix_usage_records_unpriced",
    ]


@pytest.mark.parametrize("workers", [0, 2])
def test_deferred_ingest_stores_same_rows_and_indexes(
    tmp_path: Path, prices, teams, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    make_tree(tmp_path / "tree")
    plain = open_ledger(f"sqlite:///{tmp_path / 'plain.sqlite3'}")
    bulk = open_ledger(f"sqlite:///{tmp_path / 'bulk.sqlite3'}")
    fresh_indexes = usage_indexes(plain)

    ingest(plain, tmp_path / "tree", prices, teams, workers)
    monkeypatch.setattr(bulk_load, "MIN_BYTES", 0)
    report = ingest(bulk, tmp_path / "tree", prices, teams, workers)

    assert report.inserted == 6 * 30
    assert dump(bulk) == dump(plain)
    assert usage_indexes(bulk) == fresh_indexes
    assert set(SECONDARY) <= set(fresh_indexes)


def test_deferred_indexes_dropped_while_empty_ledger_fills(sqlite_ledger: Ledger) -> None:
    with deferred_indexes(sqlite_ledger, bulk_load.MIN_BYTES) as deferred:
        assert deferred
        assert not set(SECONDARY) & set(usage_indexes(sqlite_ledger))

    assert set(SECONDARY) <= set(usage_indexes(sqlite_ledger))


def test_deferred_indexes_kept_for_small_read(sqlite_ledger: Ledger) -> None:
    with deferred_indexes(sqlite_ledger, bulk_load.MIN_BYTES - 1) as deferred:
        assert not deferred
        assert set(SECONDARY) <= set(usage_indexes(sqlite_ledger))


def test_deferred_indexes_kept_when_ledger_has_rows(
    tmp_path: Path, sqlite_ledger: Ledger, prices, teams
) -> None:
    write_jsonl(tmp_path / "logs" / "projects" / "p" / "s.jsonl", [claude_line("m1", "r1")])
    ingest(sqlite_ledger, tmp_path / "logs", prices, teams)

    with deferred_indexes(sqlite_ledger, 10 * bulk_load.MIN_BYTES) as deferred:
        assert not deferred
        assert set(SECONDARY) <= set(usage_indexes(sqlite_ledger))


def test_deferred_indexes_kept_on_postgresql(ledger: Ledger) -> None:
    with deferred_indexes(ledger, 10 * bulk_load.MIN_BYTES) as deferred:
        assert deferred == (ledger.dialect == "sqlite")


def test_deferred_indexes_built_after_failed_ingest(sqlite_ledger: Ledger) -> None:
    with (
        pytest.raises(RuntimeError, match="disk full"),
        deferred_indexes(sqlite_ledger, bulk_load.MIN_BYTES),
    ):
        raise RuntimeError("disk full")

    assert set(SECONDARY) <= set(usage_indexes(sqlite_ledger))


def test_next_ingest_builds_indexes_killed_one_dropped(
    tmp_path: Path, sqlite_ledger: Ledger, prices, teams
) -> None:
    # A killed first ingest: some rows are in, the indexes are still dropped.
    write_jsonl(tmp_path / "first" / "projects" / "p" / "s.jsonl", [claude_line("m1", "r1")])
    ingest(sqlite_ledger, tmp_path / "first", prices, teams)
    connection = sqlite3.connect(sqlite_ledger.engine.url.database)
    for name in SECONDARY:
        connection.execute(f"DROP INDEX {name}")
    connection.commit()
    connection.close()

    write_jsonl(tmp_path / "second" / "projects" / "p" / "s.jsonl", [claude_line("m2", "r2")])
    report = ingest(sqlite_ledger, tmp_path / "second", prices, teams)

    assert report.inserted == 1
    assert set(SECONDARY) <= set(usage_indexes(sqlite_ledger))
