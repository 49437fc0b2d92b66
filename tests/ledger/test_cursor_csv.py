from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from headstart.ledger.local import LocalSources, ingest_local

from .helpers import records, totals

HEADER = (
    "Date,User,Cloud Agent ID,Automation ID,Kind,Model,Max Mode,Input (w/ Cache Write),"
    "Input (w/o Cache Write),Cache Read,Output Tokens,Total Tokens,Cost\n"
)


def ingest(ledger, path: Path, prices, teams, tmp_path: Path):
    sources = LocalSources(cursor_csvs=[path], claude_dirs=[tmp_path], codex_homes=[tmp_path])
    return ingest_local(ledger, sources, prices=prices, teams=teams)


def test_dashboard_export(ledger, tmp_path, prices, teams) -> None:
    path = tmp_path / "usage.csv"
    path.write_text(
        HEADER
        + '"2026-10-01T10:00:00.000Z","a@example.com","","","Included","test-sonnet","No","1200","1000","5000","300","6500","$0.12"\n'
        + '"2026-10-01T11:00:00.000Z","b@example.com","","","Included","test-sonnet","No","100","100","0","10","110","Included"\n'
    )

    ingest(ledger, path, prices, teams, tmp_path)

    result = totals(ledger)
    assert result["input"] == 1100
    assert result["cache_write_5m"] == 200
    assert result["cache_read"] == 5000
    assert result["output"] == 310
    first, second = sorted(records(ledger), key=lambda record: record.timestamp)
    assert first.reported_cost == Decimal("0.12")
    assert second.reported_cost is None
    assert second.attributes["cursor.cost"] == "Included"


def test_reimport_overlap_adds_new(ledger, tmp_path, prices, teams) -> None:
    row_a = '"2026-10-01T10:00:00Z","a@x","","","Included","test-sonnet","No","10","10","0","1","11","0.01"\n'
    row_b = '"2026-10-02T10:00:00Z","a@x","","","Included","test-sonnet","No","20","20","0","1","21","0.02"\n'
    first = tmp_path / "september.csv"
    first.write_text(HEADER + row_a + row_a)
    second = tmp_path / "october.csv"
    second.write_text(HEADER + row_a + row_a + row_b)

    ingest(ledger, first, prices, teams, tmp_path)
    report = ingest(ledger, second, prices, teams, tmp_path)

    assert report.inserted == 1
    assert totals(ledger)["input"] == 40


def test_admin_api_columns(ledger, tmp_path, prices, teams) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "timestamp,userEmail,model,kind,maxMode,inputTokens,outputTokens,cacheWriteTokens,cacheReadTokens,totalCents\n"
        "1793613600000,c@example.com,test-opus,Usage-based,false,100,20,30,400,12.5\n"
    )

    ingest(ledger, path, prices, teams, tmp_path)

    [record] = records(ledger)
    assert (
        record.input_tokens,
        record.output_tokens,
        record.cache_write_5m_tokens,
        record.cache_read_tokens,
    ) == (100, 20, 30, 400)
    assert record.reported_cost == Decimal("0.125")


def test_not_a_cursor_export(ledger, tmp_path, prices, teams) -> None:
    path = tmp_path / "other.csv"
    path.write_text("name,age\nbob,3\n")

    report = ingest(ledger, path, prices, teams, tmp_path)

    assert totals(ledger)["requests"] == 0
    [reason] = report.skipped
    assert reason.startswith("not a Cursor usage export")
