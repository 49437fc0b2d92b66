"""Open and close tasks: the unit of work whose cost and outcome the ledger compares."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from headstart.ledger.db import Ledger
from headstart.ledger.errors import LedgerInputError
from headstart.ledger.models import Engineer, TaskRow, utcnow
from headstart.ledger.store import ensure_rows


class TaskOutcome(StrEnum):
    COMPLETED = "completed"
    PARTIAL = "partial"
    ABANDONED = "abandoned"
    FAILED = "failed"


class Task(BaseModel):
    """A task as stored in the ledger."""

    id: str
    title: str
    repository: str | None = None
    engineer: str | None = None
    session_id: str | None = None
    tool: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    outcome: TaskOutcome | None = None


def new_task_id() -> str:
    return f"hst_{secrets.token_hex(8)}"


def start_task(
    ledger: Ledger,
    title: str,
    *,
    repository: str | None = None,
    engineer: str | None = None,
    session_id: str | None = None,
    tool: str | None = None,
) -> str:
    """Open a task and return its id (`hst_` plus 16 hex digits)."""
    title = title.strip()
    if not title:
        raise LedgerInputError("missing task title: describe the task in a few words")

    task_id = new_task_id()
    with ledger.session() as session:
        engineer_id = None
        if engineer:
            identity = engineer.strip().lower()
            ids = ensure_rows(
                session,
                Engineer.__table__,
                "identity",
                [
                    {
                        "identity": identity,
                        "email": identity if "@" in identity else None,
                        "created_at": utcnow(),
                    }
                ],
            )
            engineer_id = ids[identity]
        session.add(
            TaskRow(
                id=task_id,
                title=title,
                repository=repository,
                engineer_id=engineer_id,
                session_id=session_id,
                tool=tool,
                started_at=utcnow(),
            )
        )
    return task_id


def finish_task(ledger: Ledger, task_id: str, outcome: TaskOutcome | str) -> Task:
    """Close a task with its outcome and return it; finishing it again updates the outcome.

    `outcome` is one of completed, partial, abandoned, failed.
    """
    try:
        outcome = TaskOutcome(outcome)
    except ValueError as exc:
        allowed = ", ".join(item.value for item in TaskOutcome)
        raise LedgerInputError(
            f"invalid task outcome {outcome!r}: expected one of {allowed}"
        ) from exc

    with ledger.session() as session:
        row = session.get(TaskRow, task_id)
        if row is None:
            raise LedgerInputError(f"task {task_id!r} not found: start it with start_task first")
        row.outcome = outcome.value
        row.finished_at = utcnow()
        engineer = session.get(Engineer, row.engineer_id) if row.engineer_id else None
        return Task(
            id=row.id,
            title=row.title,
            repository=row.repository,
            engineer=engineer.identity if engineer else None,
            session_id=row.session_id,
            tool=row.tool,
            started_at=row.started_at,
            finished_at=row.finished_at,
            outcome=outcome,
        )
