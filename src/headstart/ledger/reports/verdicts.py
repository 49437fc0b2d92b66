"""Keep, scope or cut each coding tool, and compare models, on what their tasks produced.

Figures are per counted work unit (a task, or a session outside any task) that started in the
period. A unit succeeds when its work merged and stayed (productive or inefficient); pending
units are left out of rates. Cost per productive task charges all spend, wasted spend included,
to the units that succeeded.

Verdicts, with thresholds from `ReportSettings`:
- cut: success rate below `cut_success`, or cost per productive task above `cut_cost_ratio`
  times the organisation's;
- keep: success rate at least `keep_success` and cost per productive task at most
  `keep_cost_ratio` times the organisation's;
- scope: anything between. `scope_to` names the types of work where the tool is good value:
  success rate at least `keep_success` there, and cost per productive task there at most
  `keep_cost_ratio` times the organisation's for the same type of work. A tool with decided
  tasks but no such type is cut instead, since there is nothing to scope it to; a tool whose
  tasks are all pending stays scope, with no type named, until they are decided.

Requests of unpriced models in the period are named beside the verdicts, since they count at $0.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from headstart.ledger.models import WorkOutcome
from headstart.ledger.reports.classes import SUCCESSFUL, Classification
from headstart.ledger.reports.query import ReportQuery
from headstart.ledger.reports.settings import ReportSettings
from headstart.ledger.reports.spend import NONE_KEY
from headstart.ledger.reports.sql import filter_outcomes
from headstart.ledger.reports.unpriced import UnpricedNotice, unpriced_notice
from headstart.text import counted


class Verdict(StrEnum):
    KEEP = "keep"
    SCOPE = "scope"
    CUT = "cut"


class UsageStats(BaseModel):
    """Outcomes and cost of the units of one tool, model, or type of work."""

    key: str
    tasks: int
    by_class: dict[str, int]
    success_rate: float | None = Field(description="Successful / decided (not pending) units.")
    cost: Decimal
    tokens: int
    cost_per_task: Decimal | None
    cost_per_productive_task: Decimal | None
    tokens_per_task: float | None


class ToolVerdict(BaseModel):
    tool: str
    verdict: Verdict
    stats: UsageStats
    evidence: list[str]
    scope_to: list[str] = Field(default_factory=list)
    warning: str | None = None


class VerdictReport(UnpricedNotice):
    query: ReportQuery
    organisation: UsageStats
    tools: list[ToolVerdict]
    models: list[UsageStats]


Cell = tuple[int, Decimal, int]  # units, cost, tokens


def _stats(key: str, cells: dict[str, Cell]) -> UsageStats:
    tasks = sum(cell[0] for cell in cells.values())
    cost = sum((cell[1] for cell in cells.values()), Decimal(0))
    tokens = sum(cell[2] for cell in cells.values())
    by_class = {item.value: cells.get(item.value, (0, 0, 0))[0] for item in Classification}
    successes = sum(by_class[name] for name in SUCCESSFUL)
    decided = tasks - by_class[Classification.PENDING.value]
    return UsageStats(
        key=key,
        tasks=tasks,
        by_class=by_class,
        success_rate=successes / decided if decided else None,
        cost=cost,
        tokens=tokens,
        cost_per_task=(cost / tasks).quantize(Decimal("0.000001")) if tasks else None,
        cost_per_productive_task=(cost / successes).quantize(Decimal("0.000001"))
        if successes
        else None,
        tokens_per_task=tokens / tasks if tasks else None,
    )


def _grouped(
    session: Session, query: ReportQuery, *columns: Any
) -> dict[tuple[Any, ...], dict[str, Cell]]:
    table = WorkOutcome
    statement = (
        select(
            *columns,
            table.classification,
            func.count(),
            func.sum(table.cost),
            func.sum(table.tokens),
        )
        .where(table.counted.is_(True))
        .group_by(*columns, table.classification)
    )
    groups: dict[tuple[Any, ...], dict[str, Cell]] = {}
    for row in session.execute(filter_outcomes(session, statement, query, table)):
        *keys, classification, units, cost, tokens = row
        group = tuple(NONE_KEY if key is None else key for key in keys)
        groups.setdefault(group, {})[classification] = (
            int(units),
            cost or Decimal(0),
            int(tokens or 0),
        )
    return groups


def verdict_report(
    session: Session,
    query: ReportQuery,
    *,
    team_scope: str | None = None,
    settings: ReportSettings | None = None,
) -> VerdictReport:
    """Judge every tool keep, scope or cut, and set models side by side, with the evidence."""
    settings = settings or ReportSettings()
    query = query.scoped(team_scope).check()
    by_tool_type = _grouped(session, query, WorkOutcome.tool, WorkOutcome.work_type)
    by_model = _grouped(session, query, WorkOutcome.model)

    def merge(keyed: dict[tuple[Any, ...], dict[str, Cell]], index: int | None) -> dict[str, Any]:
        merged: dict[str, dict[str, Cell]] = {}
        for keys, cells in keyed.items():
            target = merged.setdefault("all" if index is None else keys[index], {})
            for name, (units, cost, tokens) in cells.items():
                old = target.get(name, (0, Decimal(0), 0))
                target[name] = (old[0] + units, old[1] + cost, old[2] + tokens)
        return merged

    organisation = _stats("all", merge(by_tool_type, None).get("all", {}))
    tools = {tool: _stats(tool, cells) for tool, cells in merge(by_tool_type, 0).items()}
    org_types = {kind: _stats(kind, cells) for kind, cells in merge(by_tool_type, 1).items()}
    verdicts = [
        _verdict(stats, organisation, org_types, by_tool_type, settings)
        for _tool, stats in sorted(tools.items())
    ]
    models = sorted(
        (_stats(model[0], cells) for model, cells in by_model.items()),
        key=lambda stats: (-stats.cost, stats.key),
    )
    return VerdictReport(
        query=query,
        organisation=organisation,
        tools=verdicts,
        models=models,
        **unpriced_notice(session, query, analyzed=True),
    )


def _ratio(stats: UsageStats, reference: UsageStats | None) -> float | None:
    """Return the cost per productive task of `stats` as a multiple of `reference`'s."""
    if reference is None or not reference.cost_per_productive_task:
        return None
    if stats.cost_per_productive_task is None:
        return None
    return float(stats.cost_per_productive_task / reference.cost_per_productive_task)


def _scope(
    stats: UsageStats,
    org_types: dict[str, UsageStats],
    by_tool_type: dict[tuple[Any, ...], dict[str, Cell]],
    settings: ReportSettings,
) -> tuple[list[str], list[str]]:
    """Return the types of work where the tool is good value, and the evidence for each type."""
    scope_to: list[str] = []
    evidence: list[str] = []
    for (tool, work_type), cells in sorted(by_tool_type.items()):
        if tool != stats.key:
            continue
        typed = _stats(work_type, cells)
        if typed.success_rate is None:
            evidence.append(f"{work_type}: {counted(typed.tasks, 'task')}, none decided yet")
            continue
        reference = org_types.get(work_type)
        ratio = _ratio(typed, reference)
        facts = f"success rate {typed.success_rate:.0%} over {counted(typed.tasks, 'task')}"
        if typed.cost_per_productive_task is not None:
            facts += f", cost per productive task ${typed.cost_per_productive_task:.2f}"
        if ratio is not None and reference is not None:
            facts += (
                f" ({ratio:.2f}x the organisation's ${reference.cost_per_productive_task:.2f} "
                f"for {work_type})"
            )
        good = (
            typed.success_rate >= settings.keep_success
            and typed.cost_per_productive_task is not None
            and (ratio is None or ratio <= settings.keep_cost_ratio)
        )
        if good:
            scope_to.append(work_type)
        evidence.append(f"{work_type}: {'good value' if good else 'not good value'}: {facts}")
    return scope_to, evidence


def _verdict(
    stats: UsageStats,
    organisation: UsageStats,
    org_types: dict[str, UsageStats],
    by_tool_type: dict[tuple[Any, ...], dict[str, Cell]],
    settings: ReportSettings,
) -> ToolVerdict:
    org_cost = organisation.cost_per_productive_task
    ratio = _ratio(stats, organisation)
    success = stats.success_rate
    evidence = [
        f"{counted(stats.tasks, 'task')}: "
        + ", ".join(f"{count} {name}" for name, count in stats.by_class.items() if count),
        "success rate "
        + (f"{success:.0%}" if success is not None else "unknown (no decided tasks)")
        + f" (keep at >= {settings.keep_success:.0%}, cut below {settings.cut_success:.0%})",
    ]
    if stats.cost_per_productive_task is None:
        evidence.append("no productive task, so no cost per productive task")
    else:
        evidence.append(
            f"cost per productive task ${stats.cost_per_productive_task:.2f}"
            + (f", {ratio:.2f}x the organisation's ${org_cost:.2f}" if ratio is not None else "")
        )
    evidence.append(f"{stats.tokens_per_task or 0:,.0f} tokens per task")

    if success is None:
        # Nothing decided yet (every task pending): no grounds to cut or to keep.
        verdict = Verdict.SCOPE
    elif (
        success < settings.cut_success
        or stats.cost_per_productive_task is None
        or (ratio is not None and ratio > settings.cut_cost_ratio)
    ):
        verdict = Verdict.CUT
    elif success >= settings.keep_success and (ratio is None or ratio <= settings.keep_cost_ratio):
        verdict = Verdict.KEEP
    else:
        verdict = Verdict.SCOPE

    scope_to: list[str] = []
    if verdict is Verdict.SCOPE:
        scope_to, by_type = _scope(stats, org_types, by_tool_type, settings)
        evidence += by_type
        if success is None:
            evidence.append("no task decided yet, so no type of work to scope it to")
        elif not scope_to:
            # Scoped to nothing is cut: say so, rather than leave a scope with no types.
            verdict = Verdict.CUT
            evidence.append(
                "no type of work where it is good value (success rate at least "
                f"{settings.keep_success:.0%} and cost per productive task at most "
                f"{settings.keep_cost_ratio:g}x the organisation's for that type), "
                "so nothing to scope it to"
            )

    warning = None
    if stats.tasks < settings.min_sample:
        warning = (
            f"only {counted(stats.tasks, 'task')} (fewer than {settings.min_sample}): "
            "treat this verdict as provisional"
        )
    return ToolVerdict(
        tool=stats.key,
        verdict=verdict,
        stats=stats,
        evidence=evidence,
        scope_to=scope_to,
        warning=warning,
    )
