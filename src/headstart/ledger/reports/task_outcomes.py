"""Sessions grouped into the tasks they worked on, and the rows both are stored as.

A session belongs to a task when the task names its session id, when it received a brief opened
for the task, or when the session row names the task. A task is judged on the sum of its
sessions: their cost, commits and failures, and the task's own outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from headstart.ledger.models import AgentSession, BriefDelivery, SessionBrief, TaskRow
from headstart.ledger.reports import history
from headstart.ledger.reports.classify import Facts, Judgement, judge_all
from headstart.ledger.reports.settings import ReportSettings


@dataclass
class SessionWork:
    """One analyzed session: its usage totals, what it produced, and the facts it is judged on."""

    row: AgentSession
    task_id: str | None
    engineer: str | None
    requests: int
    tokens: int
    cost: Decimal
    model: str | None
    started: datetime | None
    ended: datetime | None
    has_brief: bool
    produced: history.Produced | None
    facts: Facts


def tasks_of_sessions(session: Session, tasks: dict[str, TaskRow]) -> dict[int, str]:
    """Find each session's task: set on the session, named by the task, or by a brief it got."""
    found: dict[int, str] = {}
    by_brief = select(SessionBrief.session_id, BriefDelivery.task_id).join(
        BriefDelivery, BriefDelivery.id == SessionBrief.brief_id
    )
    for session_id, task_id in session.execute(by_brief.where(BriefDelivery.task_id.is_not(None))):
        found.setdefault(session_id, task_id)

    named = {task.session_id: task.id for task in tasks.values() if task.session_id}
    if named:
        statement = select(AgentSession.id, AgentSession.external_id).where(
            AgentSession.external_id.in_(sorted(named))
        )
        for session_id, external in session.execute(statement):
            found[session_id] = named[external]

    statement = select(AgentSession.id, AgentSession.task_id).where(
        AgentSession.task_id.is_not(None)
    )
    for session_id, task_id in session.execute(statement):
        found[session_id] = task_id
    return {key: value for key, value in found.items() if value in tasks}


def base_row(unit: str, key: str, judgement: Judgement, now: datetime) -> dict[str, Any]:
    return {
        "id": f"{unit}:{key}",
        "unit": unit,
        "classification": judgement.classification.value,
        "reasons": judgement.reasons,
        "reverted": judgement.reverted,
        "reworked": judgement.reworked,
        "looped": judgement.looped,
        "abandoned": judgement.abandoned,
        "first_try": judgement.first_try,
        "analyzed_at": now,
    }


def task_rows(
    sessions: list[SessionWork], tasks: dict[str, TaskRow], settings: ReportSettings, now: datetime
) -> list[dict[str, Any]]:
    """Judge each task on the sum of its sessions; a task with no session in the ledger is skipped."""
    grouped: dict[str, list[SessionWork]] = {}
    for item in sessions:
        if item.task_id:
            grouped.setdefault(item.task_id, []).append(item)

    facts_list: list[Facts] = []
    members: list[tuple[TaskRow, list[SessionWork]]] = []
    for task_id, task in sorted(tasks.items()):
        items = grouped.get(task_id, [])
        if not items:
            continue
        merged = merge_facts([item.facts for item in items], task)
        merged.model = costliest_model(items)
        facts_list.append(merged)
        members.append((task, items))

    judgements = judge_all(facts_list, settings, now)
    rows = []
    for (task, items), facts, judgement in zip(members, facts_list, judgements, strict=True):
        first = items[0].row
        prs = set(facts.pull_requests.values())
        merged_prs = {pr for sha, pr in facts.pull_requests.items() if sha in set(facts.merged)}
        starts = [item.started for item in items if item.started]
        ends = [item.ended for item in items if item.ended]
        rows.append(
            {
                **base_row("task", task.id, judgement, now),
                "session_id": None,
                "task_id": task.id,
                "counted": True,
                "tool": task.tool or first.tool,
                "model": costliest_model(items),
                "repository": task.repository or first.repository,
                "branch": first.branch,
                "team_id": first.team_id,
                "engineer_id": task.engineer_id or first.engineer_id,
                "started_at": min(starts) if starts else task.started_at,
                "ended_at": max(ends) if ends else task.finished_at,
                "work_type": facts.work_type,
                "requests": sum(item.requests for item in items),
                "tokens": sum(item.tokens for item in items),
                "cost": facts.cost,
                "commits": len(facts.commits),
                "pull_requests": len(prs),
                "merged_pull_requests": len(merged_prs),
                "merged": bool(facts.merged),
                "has_brief": any(item.has_brief for item in items),
                "evidence": {
                    "git": facts.git_known,
                    "sessions": [item.row.id for item in items],
                    "commits": facts.commits,
                    "pull_requests": sorted(prs),
                    "reverted_by": facts.reverted_by,
                    "refixed_by": facts.refixed_by,
                    "landed": landed_evidence(facts),
                },
            }
        )
    return rows


def landed_evidence(facts: Facts) -> dict[str, dict[str, str]]:
    """Each squashed or rebased commit's copy on the default branch, as JSON."""
    return {sha: {"how": how, "commit": on_main} for sha, (how, on_main) in facts.landed.items()}


def merge_facts(parts: list[Facts], task: TaskRow) -> Facts:
    commits = list(dict.fromkeys(sha for part in parts for sha in part.commits))
    kinds = [part.work_type for part in parts if part.commits] or [parts[0].work_type]
    kind = max(set(kinds), key=kinds.count)
    ends = [part.ended_at for part in parts if part.ended_at]
    return Facts(
        cost=sum((part.cost for part in parts), Decimal(0)),
        work_type=kind,
        type_reason=next(
            (part.type_reason for part in parts if part.work_type == kind and part.type_reason),
            None,
        ),
        model=None,
        ended_at=max(ends) if ends else None,
        git_known=any(part.git_known for part in parts),
        commits=commits,
        merged=sorted({sha for part in parts for sha in part.merged}),
        pull_requests={k: v for part in parts for k, v in part.pull_requests.items()},
        reverted_by={k: v for part in parts for k, v in part.reverted_by.items()},
        refixed_by={k: v for part in parts for k, v in part.refixed_by.items()},
        landed={k: v for part in parts for k, v in part.landed.items()},
        renamed_share=max((part.renamed_share for part in parts), default=0.0),
        failed_calls=[call for part in parts for call in part.failed_calls],
        errors=[error for part in parts for error in part.errors],
        task_outcome=task.outcome,
        branch=parts[0].branch,
    )


def costliest_model(items: list[SessionWork]) -> str | None:
    costs: dict[str | None, Decimal] = {}
    for item in items:
        costs[item.model] = costs.get(item.model, Decimal(0)) + item.cost
    return max(costs, key=lambda model: costs[model]) if costs else None
