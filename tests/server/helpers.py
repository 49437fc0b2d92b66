"""Checks every MCP test runs, whatever the transport: each tool called through a real client."""

from __future__ import annotations

from pathlib import Path

from mcp.client.session import ClientSession
from sqlalchemy import select

from headstart.context.models import Brief, CheckResult, HistoryPage
from headstart.context.tokens import count_tokens
from headstart.ledger.db import open_ledger
from headstart.ledger.models import BriefDelivery

READ_ONLY_TOOLS = {"get_task_brief", "search_history", "get_file_history", "check_guardrails"}
WRITING_TOOLS = {"start_task", "finish_task"}
REPORT_TOOLS = {
    "report_spend",
    "report_efficiency",
    "report_budgets",
    "report_verdicts",
    "report_compare",
    "report_sessions",
}


async def check_tool_list(session: ClientSession) -> None:
    listed = {tool.name: tool for tool in (await session.list_tools()).tools}

    assert set(listed) == READ_ONLY_TOOLS | WRITING_TOOLS | REPORT_TOOLS
    for name in READ_ONLY_TOOLS | REPORT_TOOLS:
        assert listed[name].annotations is not None
        assert listed[name].annotations.read_only_hint is True
        assert listed[name].output_schema is not None
    for name in WRITING_TOOLS:
        assert listed[name].annotations.read_only_hint is False
    assert "offset" in listed["search_history"].input_schema["properties"]
    assert "offset" in listed["get_file_history"].input_schema["properties"]


async def check_brief(session: ClientSession, data_dir: Path) -> Brief:
    """Call get_task_brief inside a task and return the brief; check its budget and ledger row."""
    started = await session.call_tool("start_task", {"title": "Cap the retries", "tool": "pytest"})
    assert not started.is_error, started.content
    task_id = started.structured_content["task_id"]

    result = await session.call_tool(
        "get_task_brief",
        {
            "task": "add retry with backoff to the HTTP client",
            "max_tokens": 800,
            "task_id": task_id,
        },
    )

    assert not result.is_error, result.content
    brief = Brief.model_validate(result.structured_content)
    markdown = result.content[0].text
    assert markdown.startswith("# Headstart brief")
    assert brief.id in markdown
    assert count_tokens(markdown) <= 800
    assert brief.tokens == count_tokens(markdown)
    assert brief.likely_files[0].path == "src/http/client.py"

    finished = await session.call_tool("finish_task", {"task_id": task_id, "outcome": "completed"})
    assert not finished.is_error, finished.content
    assert finished.structured_content["outcome"] == "completed"

    ledger = open_ledger(f"sqlite:///{data_dir / 'ledger.sqlite3'}")
    try:
        with ledger.session() as db:
            row = db.execute(select(BriefDelivery).where(BriefDelivery.id == brief.id)).scalar_one()
            assert row.task_id == task_id
            assert row.tokens == brief.tokens
    finally:
        ledger.close()
    return brief


async def check_pages(session: ClientSession) -> None:
    """Both history tools page: a small budget cuts a page, and next_offset continues it."""
    first = await session.call_tool("get_file_history", {"path": "src/http/client.py", "limit": 3})
    assert not first.is_error, first.content
    page = HistoryPage.model_validate(first.structured_content)
    assert page.total == 13
    assert len(page.items) == 3
    assert page.next_offset == 3

    second = await session.call_tool(
        "get_file_history", {"path": "src/http/client.py", "limit": 3, "offset": page.next_offset}
    )
    following = HistoryPage.model_validate(second.structured_content)
    assert {item.key for item in following.items}.isdisjoint({item.key for item in page.items})

    searched = await session.call_tool(
        "search_history", {"query": "update dependencies", "limit": 20, "max_tokens": 500}
    )
    assert not searched.is_error, searched.content
    found = HistoryPage.model_validate(searched.structured_content)
    assert count_tokens(searched.content[0].text) <= 500
    assert 1 <= len(found.items) < 20
    assert found.next_offset == len(found.items)


async def check_errors(session: ClientSession) -> None:
    """Headstart's errors come back as tool errors with their message; the server lives on."""
    missing = await session.call_tool(
        "get_file_history", {"path": "a.py", "repo": "/no/such/repository"}
    )
    assert missing.is_error
    assert "/no/such/repository" in missing.content[0].text

    invalid = await session.call_tool("search_history", {"query": "retry", "limit": 500})
    assert invalid.is_error

    unknown = await session.call_tool(
        "finish_task", {"task_id": "hst_0000000000000000", "outcome": "completed"}
    )
    assert unknown.is_error
    assert "hst_0000000000000000" in unknown.content[0].text


async def check_guardrails(session: ClientSession) -> None:
    """check_guardrails takes files or a diff, and says what the change leaves out."""
    by_files = await session.call_tool("check_guardrails", {"files": ["src/http/client.py"]})
    assert not by_files.is_error, by_files.content
    result = CheckResult.model_validate(by_files.structured_content)
    assert result.changed_files == ["src/http/client.py"]
    assert by_files.content[0].text.startswith("headstart check:")

    diff = "--- a/src/http/client.py\n+++ b/src/http/client.py\n@@ -1 +1 @@\n-a\n+b\n"
    by_diff = await session.call_tool("check_guardrails", {"diff": diff})
    assert CheckResult.model_validate(by_diff.structured_content).changed_files == ["src/http/client.py"]

    empty = await session.call_tool("check_guardrails", {"diff": "not a diff"})
    assert empty.is_error
    assert "the diff names no files" in empty.content[0].text


async def check_all_tools(session: ClientSession, data_dir: Path) -> None:
    await check_tool_list(session)
    await check_guardrails(session)
    await check_brief(session, data_dir)
    await check_pages(session)
    await check_errors(session)
