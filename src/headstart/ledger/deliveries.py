"""Record the briefs Headstart hands out, so sessions that used them can be found later."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select

from headstart.ledger.db import Ledger
from headstart.ledger.errors import LedgerInputError
from headstart.ledger.models import AgentSession, BriefDelivery, SessionBrief, utcnow
from headstart.ledger.store import insert_for

BRIEF_ID = re.compile(r"^hsb_[0-9a-f]{16}$")


class SessionUsingBrief(BaseModel):
    """An agent session whose log shows it received a brief."""

    tool: str
    session_id: str
    repository: str | None
    first_seen: datetime | None


def record_delivery(
    ledger: Ledger,
    brief_id: str,
    task: str,
    repo: str | None,
    files: Sequence[str],
    tokens: int,
    session_id: str | None = None,
    *,
    task_id: str | None = None,
    delivered_at: datetime | None = None,
) -> None:
    """Store one brief delivery; recording the same brief id again changes nothing.

    `brief_id` must look like `hsb_` plus 16 lower-case hex digits, the form session logs are
    searched for. `tokens` is the brief's size in tokens.
    """
    if not BRIEF_ID.match(brief_id):
        raise LedgerInputError(
            f"invalid brief id {brief_id!r}: expected 'hsb_' followed by 16 lower-case hex digits"
        )
    if tokens < 0:
        raise LedgerInputError(f"invalid brief size {tokens!r}: expected a token count >= 0")

    row = {
        "id": brief_id,
        "task": task,
        "task_id": task_id,
        "repository": repo,
        "files": list(files),
        "tokens": tokens,
        "session_id": session_id,
        "delivered_at": delivered_at or utcnow(),
    }
    with ledger.session() as session:
        statement = insert_for(session, BriefDelivery.__table__).on_conflict_do_nothing(
            index_elements=["id"]
        )
        session.execute(statement, [row])


def sessions_using_brief(ledger: Ledger, brief_id: str) -> list[SessionUsingBrief]:
    """Return the agent sessions whose logs show they received `brief_id`."""
    with ledger.session() as session:
        rows = session.execute(
            select(
                AgentSession.tool,
                AgentSession.external_id,
                AgentSession.repository,
                AgentSession.first_seen,
            )
            .join(SessionBrief, SessionBrief.session_id == AgentSession.id)
            .where(SessionBrief.brief_id == brief_id)
            .order_by(AgentSession.first_seen)
        )
        return [
            SessionUsingBrief(
                tool=tool, session_id=external, repository=repository, first_seen=first
            )
            for tool, external, repository, first in rows
        ]
