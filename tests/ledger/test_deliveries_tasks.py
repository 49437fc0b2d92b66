from __future__ import annotations

import pytest
from sqlalchemy import select

from headstart.ledger.deliveries import record_delivery
from headstart.ledger.errors import LedgerInputError
from headstart.ledger.models import BriefDelivery
from headstart.ledger.tasks import TaskOutcome, finish_task, start_task

BRIEF = "hsb_0123456789abcdef"


def test_delivery_recorded_once(ledger) -> None:
    record_delivery(
        ledger, BRIEF, "fix login", "github.com/acme/api", ["a.py", "b.py"], 900, session_id="mcp-1"
    )
    record_delivery(
        ledger, BRIEF, "fix login again", "github.com/acme/api", [], 1, session_id="mcp-2"
    )

    with ledger.session() as session:
        [row] = session.scalars(select(BriefDelivery)).all()
    assert row.task == "fix login"
    assert row.files == ["a.py", "b.py"]
    assert row.tokens == 900
    assert row.session_id == "mcp-1"
    assert row.delivered_at.tzinfo is not None


@pytest.mark.parametrize("brief_id", ["hsb_123", "HSB_0123456789ABCDEF", "brief-1"])
def test_delivery_bad_id(ledger, brief_id: str) -> None:
    with pytest.raises(LedgerInputError, match=repr(brief_id)):
        record_delivery(ledger, brief_id, "t", None, [], 1)


def test_task_lifecycle(ledger) -> None:
    task_id = start_task(
        ledger,
        "  Add retries to the uploader ",
        repository="github.com/acme/api",
        engineer="Dev@Example.com",
    )

    task = finish_task(ledger, task_id, "completed")

    assert task_id.startswith("hst_")
    assert len(task_id) == 20
    assert task.title == "Add retries to the uploader"
    assert task.outcome is TaskOutcome.COMPLETED
    assert task.engineer == "dev@example.com"
    assert task.finished_at is not None
    assert task.finished_at >= task.started_at


def test_finish_unknown_task(ledger) -> None:
    with pytest.raises(LedgerInputError, match="'hst_nope'"):
        finish_task(ledger, "hst_nope", "completed")


def test_finish_bad_outcome(ledger) -> None:
    task_id = start_task(ledger, "x")

    with pytest.raises(LedgerInputError, match="'great'.*completed, partial, abandoned, failed"):
        finish_task(ledger, task_id, "great")


def test_start_empty_title(ledger) -> None:
    with pytest.raises(LedgerInputError, match="title"):
        start_task(ledger, "   ")
