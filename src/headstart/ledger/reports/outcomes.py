"""Link sessions and tasks to what they produced, judge them, and store the result.

`analyze_outcomes` reads each session's usage (summed in SQL), its failing tool calls (from the
usage attributes the log readers record), its briefs and task, and its commits from git (see
`history`). When an index store is given, it also reads the labels of the commits' pull
requests from it (see `pr_labels`). It judges every session and task (see `classify`) and
rewrites their rows in `work_outcomes`, which the reports read. Running it again recomputes the
same rows, so it can run on a schedule; a later run finds merges, reverts and fixes that
happened since.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import String, cast, delete, func, select
from sqlalchemy.orm import Session

from headstart.ledger.models import (
    AgentSession,
    Engineer,
    SessionBrief,
    TaskRow,
    UsageRecord,
    WorkOutcome,
)
from headstart.ledger.reports import history
from headstart.ledger.reports.classify import Facts, Judgement, judge_all
from headstart.ledger.reports.pr_labels import PullRequestLabels
from headstart.ledger.reports.rollup import refresh_daily
from headstart.ledger.reports.settings import ReportSettings
from headstart.ledger.reports.sql import token_sum
from headstart.ledger.reports.task_outcomes import (
    SessionWork,
    base_row,
    landed_evidence,
    task_rows,
    tasks_of_sessions,
)
from headstart.ledger.reports.worktype import label_type, work_type

logger = logging.getLogger("headstart.ledger.reports.outcomes")

# Sessions per query when their failures are read; below SQLite's bound-parameter limit.
CHUNK = 5000


class AnalysisSummary(BaseModel):
    """Counts of the rows one analysis run wrote."""

    sessions: int
    tasks: int
    by_class: dict[str, int]
    without_git: int


Locate = Callable[[AgentSession], str | None]


def _local_repository(agent_session: AgentSession) -> str | None:
    return history.repository_path(agent_session.cwd)


def analyze_outcomes(
    session: Session,
    *,
    settings: ReportSettings | None = None,
    now: datetime | None = None,
    locate: Locate = _local_repository,
    labels: PullRequestLabels | None = None,
) -> AnalysisSummary:
    """Judge every session with usage and every task, and rewrite their `work_outcomes` rows.

    `locate` returns the local path of a session's repository, by default its working directory
    when that is inside a git repository on this machine. `labels` reads the labels of pull
    requests from the index store; without it the type of work comes from git alone.
    """
    settings = settings or ReportSettings()
    now = now or datetime.now(UTC)

    usage = _usage_by_session(session)
    models = _main_models(session)
    failures = _failures(session, list(usage))
    briefed = set(session.scalars(select(SessionBrief.session_id).distinct()))
    engineers = dict(session.execute(select(Engineer.id, Engineer.identity)).all())
    tasks = {task.id: task for task in session.scalars(select(TaskRow))}
    task_of = tasks_of_sessions(session, tasks)

    sessions: list[SessionWork] = []
    # Filtered here, not with IN: a ledger can have more sessions than SQLite takes parameters.
    for row in session.scalars(select(AgentSession).order_by(AgentSession.id)):
        if row.id not in usage:
            continue
        requests, tokens, cost, started, ended = usage[row.id]
        engineer = engineers.get(row.engineer_id) if row.engineer_id else None
        task_id = task_of.get(row.id)
        task = tasks.get(task_id) if task_id else None
        path = locate(row)
        produced = _produced(row, path, engineer, started, ended, settings)
        failed_calls, errors = failures.get(row.id, ([], []))
        kind, type_reason = _work_type(produced, task, settings, path, labels)
        facts = Facts(
            cost=cost,
            work_type=kind,
            type_reason=type_reason,
            model=models.get(row.id),
            ended_at=ended,
            git_known=produced is not None,
            commits=[c.sha for c in produced.commits] if produced else [],
            merged=sorted(produced.merged) if produced else [],
            pull_requests=dict(produced.pull_requests) if produced else {},
            reverted_by=dict(produced.reverted_by) if produced else {},
            refixed_by=dict(produced.refixed_by) if produced else {},
            landed=_landed(produced),
            renamed_share=produced.renamed_share if produced else 0.0,
            failed_calls=failed_calls,
            errors=errors,
            task_outcome=task.outcome if task else None,
            branch=row.branch,
        )
        sessions.append(
            SessionWork(
                row,
                task_id,
                engineer,
                requests,
                tokens,
                cost,
                models.get(row.id),
                started,
                ended,
                row.id in briefed,
                produced,
                facts,
            )
        )

    judgements = judge_all([item.facts for item in sessions], settings, now)
    rows = [
        _session_row(item, judgement, now)
        for item, judgement in zip(sessions, judgements, strict=True)
    ]
    rows += task_rows(sessions, tasks, settings, now)

    # A unit whose repository is not cloned here keeps the row an analysis elsewhere wrote, so
    # machines with different clones do not undo each other's work.
    existing = set(session.scalars(select(WorkOutcome.id)))
    kept = {row["id"] for row in rows if not row["evidence"]["git"] and row["id"] in existing}
    rows = [row for row in rows if row["id"] not in kept]
    stale = sorted(existing - kept)
    for start in range(0, len(stale), CHUNK):
        session.execute(delete(WorkOutcome).where(WorkOutcome.id.in_(stale[start : start + CHUNK])))
    if rows:
        session.execute(WorkOutcome.__table__.insert(), rows)
    # The daily rollup is built here too, so the first report after a large ingest is quick.
    refresh_daily(session)

    by_class: dict[str, int] = {}
    for row in rows:
        if row["counted"]:
            by_class[row["classification"]] = by_class.get(row["classification"], 0) + 1
    summary = AnalysisSummary(
        sessions=len(sessions),
        tasks=sum(1 for row in rows if row["unit"] == "task"),
        by_class=by_class,
        without_git=sum(1 for item in sessions if item.produced is None),
    )
    logger.info(
        "analyzed %d sessions and %d tasks (%d without git history here)",
        summary.sessions,
        summary.tasks,
        summary.without_git,
    )
    return summary


def _usage_by_session(
    session: Session,
) -> dict[int, tuple[int, int, Decimal, datetime | None, datetime | None]]:
    statement = (
        select(
            UsageRecord.session_id,
            func.count(),
            func.sum(token_sum()),
            func.sum(UsageRecord.computed_cost),
            func.min(UsageRecord.timestamp),
            func.max(UsageRecord.timestamp),
        )
        .where(UsageRecord.session_id.is_not(None))
        .group_by(UsageRecord.session_id)
    )
    found = {}
    timestamp = UsageRecord.timestamp.type
    for session_id, requests, tokens, cost, first, last in session.execute(statement):
        # MIN and MAX of a timestamp come back as text on SQLite; convert them as a column would.
        first = _as_time(timestamp, first)
        last = _as_time(timestamp, last)
        found[session_id] = (int(requests), int(tokens or 0), cost or Decimal(0), first, last)
    return found


def _as_time(column_type: Any, value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return column_type.process_result_value(value, None)
    return column_type.process_result_value(datetime.fromisoformat(str(value)), None)


def _main_models(session: Session) -> dict[int, str | None]:
    """Find the model that cost each session the most (most requests when nothing was priced)."""
    statement = (
        select(
            UsageRecord.session_id,
            UsageRecord.model,
            func.sum(UsageRecord.computed_cost),
            func.count(),
        )
        .where(UsageRecord.session_id.is_not(None))
        .group_by(UsageRecord.session_id, UsageRecord.model)
    )
    best: dict[int, tuple[Decimal, int, str | None]] = {}
    for session_id, model, cost, requests in session.execute(statement):
        key = (cost or Decimal(0), int(requests), model)
        if session_id not in best or key[:2] > best[session_id][:2]:
            best[session_id] = key
    return {session_id: value[2] for session_id, value in best.items()}


def _failures(session: Session, ids: list[int]) -> dict[int, tuple[list[str], list[str]]]:
    """Read the failing calls and errors the log readers recorded on each session's requests."""
    found: dict[int, tuple[list[str], list[str]]] = {}
    marker = cast(UsageRecord.attributes, String).like('%"failed_calls"%')
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        statement = (
            select(UsageRecord.session_id, UsageRecord.attributes)
            .where(UsageRecord.session_id.in_(chunk), marker)
            .order_by(UsageRecord.timestamp)
        )
        for session_id, attributes in session.execute(statement):
            calls, errors = found.setdefault(session_id, ([], []))
            calls.extend(str(value) for value in (attributes or {}).get("failed_calls", []))
            errors.extend(str(value) for value in (attributes or {}).get("errors", []))
    return found


def _produced(
    row: AgentSession,
    path: str | None,
    engineer: str | None,
    started: datetime | None,
    ended: datetime | None,
    settings: ReportSettings,
) -> history.Produced | None:
    if path is None or started is None or ended is None:
        return None
    author = engineer if engineer and "@" in engineer else None
    return history.produced(
        path, row.branch, started, ended, author=author, rework_days=settings.rework_days
    )


def _landed(produced: history.Produced | None) -> dict[str, tuple[str, str]]:
    if produced is None:
        return {}
    return {sha: (landing.how, landing.sha) for sha, landing in produced.landed.items()}


def _work_type(
    produced: history.Produced | None,
    task: TaskRow | None,
    settings: ReportSettings,
    path: str | None,
    labels: PullRequestLabels | None,
) -> tuple[str, str | None]:
    """Return the type of work, and a reason to show when a pull request's label decided it."""
    if produced and path and labels:
        for key in sorted(set(produced.pull_requests.values())):
            if (found := label_type(labels.labels(path, key))) is not None:
                kind, label = found
                return kind.value, f"type of work {kind.value}: PR {key} is labelled {label!r}"

    kind, _signal = work_type(
        [commit.subject for commit in produced.commits] if produced else [],
        (),
        produced.files if produced else [],
        produced.renamed_share if produced else 0.0,
        move_share=settings.move_share,
        title=task.title if task else None,
    )
    return kind.value, None


def _session_row(item: SessionWork, judgement: Judgement, now: datetime) -> dict[str, Any]:
    facts, row = item.facts, item.row
    prs = set(facts.pull_requests.values())
    merged_prs = {pr for sha, pr in facts.pull_requests.items() if sha in set(facts.merged)}
    return {
        **base_row("session", str(row.id), judgement, now),
        "session_id": row.id,
        "task_id": item.task_id,
        "counted": item.task_id is None,
        "tool": row.tool,
        "model": item.model,
        "repository": row.repository,
        "branch": row.branch,
        "team_id": row.team_id,
        "engineer_id": row.engineer_id,
        "started_at": item.started,
        "ended_at": item.ended,
        "work_type": facts.work_type,
        "requests": item.requests,
        "tokens": item.tokens,
        "cost": item.cost,
        "commits": len(facts.commits),
        "pull_requests": len(prs),
        "merged_pull_requests": len(merged_prs),
        "merged": bool(facts.merged),
        "has_brief": item.has_brief,
        "evidence": {
            "git": facts.git_known,
            "commits": facts.commits,
            "merged": facts.merged,
            "pull_requests": sorted(prs),
            "reverted_by": facts.reverted_by,
            "refixed_by": facts.refixed_by,
            "landed": landed_evidence(facts),
        },
    }
