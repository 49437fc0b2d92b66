from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from headstart.ledger.deliveries import sessions_using_brief
from headstart.ledger.local import LocalSources, ingest_local

from .helpers import records, totals, write_jsonl

SESSION = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


def meta(session: str = SESSION) -> dict[str, Any]:
    return {
        "timestamp": "2026-11-02T10:00:00.000Z",
        "type": "session_meta",
        "payload": {
            "id": session,
            "cwd": "/nonexistent/app",
            "cli_version": "0.60.0",
            "git": {
                "commit_hash": "abc",
                "branch": "main",
                "repository_url": "https://github.com/acme/app.git",
            },
        },
    }


def context(model: str = "test-codex") -> dict[str, Any]:
    return {
        "timestamp": "2026-11-02T10:00:01Z",
        "type": "turn_context",
        "payload": {"model": model, "cwd": "/nonexistent/app"},
    }


def token_count(
    total: dict[str, int] | None, last: dict[str, int] | None = None, second: int = 2
) -> dict[str, Any]:
    info = (
        None
        if total is None and last is None
        else {"total_token_usage": total, "last_token_usage": last}
    )
    return {
        "timestamp": f"2026-11-02T10:00:{second:02d}Z",
        "type": "event_msg",
        "payload": {"type": "token_count", "info": info},
    }


def usage(inp: int, cached: int = 0, out: int = 0, reasoning: int = 0) -> dict[str, int]:
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }


def rollout(
    home: Path,
    name: str = f"rollout-2026-11-02T10-00-00-{SESSION}.jsonl",
    folder: str = "sessions/2026/11/02",
) -> Path:
    return home / folder / name


def ingest(ledger, home: Path, prices, teams):
    return ingest_local(ledger, LocalSources(codex_homes=[home]), prices=prices, teams=teams)


def test_cumulative_growth_not_last_sum(ledger, tmp_path, prices, teams) -> None:
    write_jsonl(
        rollout(tmp_path),
        [
            meta(),
            context(),
            token_count(None),
            token_count(usage(1000), usage(1000), 2),
            token_count(usage(1000), usage(1000), 3),
            token_count(usage(3300), usage(2300), 4),
        ],
    )

    ingest(ledger, tmp_path, prices, teams)

    result = totals(ledger)
    assert result["input"] == 3300
    assert result["requests"] == 2


def test_cached_input_is_part_of_input(ledger, tmp_path, prices, teams) -> None:
    write_jsonl(
        rollout(tmp_path), [meta(), context(), token_count(usage(1_000_000, cached=800_000))]
    )

    ingest(ledger, tmp_path, prices, teams)

    result = totals(ledger)
    assert result["input"] == 200_000
    assert result["cache_read"] == 800_000
    assert result["cost"] == Decimal("0.35")


def test_reasoning_inside_output(ledger, tmp_path, prices, teams) -> None:
    write_jsonl(
        rollout(tmp_path), [meta(), context(), token_count(usage(0, out=125, reasoning=75))]
    )

    ingest(ledger, tmp_path, prices, teams)

    result = totals(ledger)
    assert result["output"] == 125
    assert result["reasoning"] == 75
    assert result["cost"] == Decimal("0.00125")


def test_archived_copy_counts_once(ledger, tmp_path, prices, teams) -> None:
    lines = [meta(), context(), token_count(usage(500, out=10))]
    write_jsonl(rollout(tmp_path), lines)
    write_jsonl(rollout(tmp_path, folder="archived_sessions"), lines)

    report = ingest(ledger, tmp_path, prices, teams)

    assert report.files_read == 2
    assert totals(ledger)["input"] == 500


def test_growth_across_ingests(ledger, tmp_path, prices, teams) -> None:
    path = rollout(tmp_path)
    write_jsonl(path, [meta(), context(), token_count(usage(1000, out=5), second=2)])
    ingest(ledger, tmp_path, prices, teams)

    write_jsonl(
        path, [token_count(usage(1000, out=5), second=3), token_count(usage(1600, out=9), second=4)]
    )
    ingest(ledger, tmp_path, prices, teams)

    result = totals(ledger)
    assert result["input"] == 1600
    assert result["output"] == 9
    assert result["requests"] == 2


def test_session_attribution(ledger, tmp_path, prices, teams) -> None:
    write_jsonl(rollout(tmp_path), [meta(), context(), token_count(usage(10))])

    ingest(ledger, tmp_path, prices, teams)

    [record] = records(ledger)
    assert record.repository == "github.com/acme/app"
    assert record.branch == "main"
    assert record.model == "test-codex"


def test_mcp_brief_linked(ledger, tmp_path, prices, teams) -> None:
    brief = "hsb_00000000000000aa"
    end = {
        "timestamp": "2026-11-02T10:00:02Z",
        "type": "event_msg",
        "payload": {
            "type": "mcp_tool_call_end",
            "invocation": {"server": "headstart", "tool": "get_task_brief"},
            "result": {"Ok": {"content": [{"type": "text", "text": f"brief {brief}"}]}},
        },
    }
    write_jsonl(rollout(tmp_path), [meta(), context(), end, token_count(usage(10), second=3)])

    ingest(ledger, tmp_path, prices, teams)

    assert [s.session_id for s in sessions_using_brief(ledger, brief)] == [SESSION]


def test_old_and_unknown_lines_counted(ledger, tmp_path, prices, teams) -> None:
    write_jsonl(
        rollout(tmp_path),
        [
            {"id": "x", "timestamp": "2025-01-01", "instructions": None},
            {"type": "telepathy", "payload": {}},
            meta(),
            token_count(usage(7)),
        ],
    )

    report = ingest(ledger, tmp_path, prices, teams)

    assert report.skipped == {
        "rollout line in an older format without token counts": 1,
        "unknown record type 'telepathy'": 1,
    }
    assert totals(ledger)["input"] == 7


def test_invalid_token_count_skipped(ledger, tmp_path, prices, teams) -> None:
    broken = usage(2000)
    broken["output_tokens"] = "many"
    write_jsonl(
        rollout(tmp_path),
        [meta(), context(), token_count(usage(1000), usage(1000), 2), token_count(broken, None, 3)],
    )

    report = ingest(ledger, tmp_path, prices, teams)

    assert totals(ledger)["input"] == 1000
    assert report.skipped["invalid token count 'many' in total_token_usage.output_tokens"] == 1
