"""Type of work, loop capture in the Claude Code reader, budgets in teams.toml, query checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.ledger.helpers import claude_line, write_jsonl

from headstart.ledger.errors import LedgerInputError
from headstart.ledger.report import IngestReport
from headstart.ledger.reports import ReportQuery, WorkType
from headstart.ledger.reports.worktype import work_type
from headstart.ledger.sources import claude_code, codex
from headstart.ledger.sources.cursors import open_cursor
from headstart.ledger.teams import TeamMap


@pytest.mark.parametrize(
    ("subjects", "labels", "files", "expected"),
    [
        (["feat(api): add retries", "fix: typo"], [], [], WorkType.FEATURE),
        (["Update things"], ["bug"], [], WorkType.BUGFIX),
        (["Update things"], [], ["docs/a.md", "README.md"], WorkType.DOCS),
        (["Update things"], [], ["tests/test_a.py"], WorkType.TEST),
        (["Update things"], [], [".github/workflows/ci.yml"], WorkType.CHORE),
        (["Fix crash on start"], [], ["src/a.py"], WorkType.BUGFIX),
        (["Add a thing"], [], ["src/a.py"], WorkType.FEATURE),
    ],
)
def test_work_type(subjects, labels, files, expected) -> None:
    assert work_type(subjects, labels, files)[0] is expected


def test_work_type_from_renames() -> None:
    assert work_type(["Move modules"], (), ["src/a.py"], 0.8)[0] is WorkType.REFACTOR


def _tool_use(call_id: str) -> dict:
    return {"type": "tool_use", "id": call_id, "name": "Bash", "input": {"command": "pytest -x"}}


def _failure(call_id: str) -> dict:
    return {
        "type": "user",
        "sessionId": "s-1",
        "timestamp": "2026-11-02T10:00:01.000Z",
        "message": {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": call_id,
                    "is_error": True,
                    "content": "Exit code 1\nFAILED tests/test_a.py::test_b at line 12",
                }
            ],
        },
    }


def test_claude_code_reader_records_failing_calls(tmp_path: Path) -> None:
    lines = []
    for number in range(3):
        lines.append(
            claude_line(
                f"m{number}", f"r{number}", content=[_tool_use(f"t{number}")], input_tokens=10
            )
        )
        lines.append(_failure(f"t{number}"))
    path = write_jsonl(tmp_path / "s.jsonl", lines)

    events = list(claude_code.read(open_cursor(path, "claude_code", None), IngestReport()))

    calls = [call for event in events for call in event.attributes.get("failed_calls", [])]
    errors = [error for event in events for error in event.attributes.get("errors", [])]
    assert len(calls) == 3
    assert len(set(calls)) == 1
    assert calls[0].startswith("Bash:")
    assert len(errors) == 3
    assert len(set(errors)) == 1


def test_budgets_in_teams_file(tmp_path: Path) -> None:
    good = tmp_path / "teams.toml"
    good.write_text(
        '[teams.a]\nbudget_usd = 250.5\nbudget_period = "week"\n[teams.b]\nmembers = []\n'
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('[teams.a]\nbudget_usd = 10\nbudget_period = "fortnight"\n')

    budgets = TeamMap.load(good).budgets

    assert {team: (str(b.amount_usd), b.period) for team, b in budgets.items()} == {
        "a": ("250.5", "week")
    }
    with pytest.raises(LedgerInputError, match="invalid budget_period 'fortnight'"):
        TeamMap.load(bad)


def test_query_period_must_run_forward() -> None:
    query = ReportQuery(
        start=datetime(2024, 2, 1, tzinfo=UTC), end=datetime(2024, 1, 1, tzinfo=UTC)
    )

    with pytest.raises(LedgerInputError, match="is not before end"):
        query.check()


def _codex_call(number: int, exit_code: int) -> list[dict]:
    call = {
        "type": "function_call",
        "name": "shell",
        "arguments": '{"command":["pytest","-x"]}',
        "call_id": f"call_{number}",
    }
    output = {
        "type": "function_call_output",
        "call_id": f"call_{number}",
        "output": json.dumps(
            {"output": f"FAILED in {number}.2s", "metadata": {"exit_code": exit_code}}
        ),
    }
    stamp = f"2026-11-02T10:00:{number:02d}Z"
    return [
        {"timestamp": stamp, "type": "response_item", "payload": call},
        {"timestamp": stamp, "type": "response_item", "payload": output},
    ]


def test_codex_reader_records_failing_calls(tmp_path: Path) -> None:
    lines = [
        {
            "timestamp": "2026-11-02T10:00:00Z",
            "type": "session_meta",
            "payload": {"id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "cwd": "/nonexistent"},
        }
    ]
    for number, exit_code in enumerate([1, 1, 0, 1], start=1):
        lines += _codex_call(number, exit_code)
    total = {"input_tokens": 10, "cached_input_tokens": 0, "output_tokens": 1}
    total |= {"reasoning_output_tokens": 0, "total_tokens": 11}
    lines.append(
        {
            "timestamp": "2026-11-02T10:00:09Z",
            "type": "event_msg",
            "payload": {"type": "token_count", "info": {"total_token_usage": total}},
        }
    )
    path = write_jsonl(tmp_path / "rollout-0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.jsonl", lines)

    events = list(codex.read(open_cursor(path, "codex", None), IngestReport()))

    assert len(events) == 1
    calls = events[0].attributes["failed_calls"]
    assert len(calls) == 3
    assert len(set(calls)) == 1
    assert calls[0].startswith("shell:")
    assert len(set(events[0].attributes["errors"])) == 1
