"""Flatten each report into rows, for tables and CSV; JSON output uses the models themselves."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from headstart.ledger.reports.budgets import BudgetReport
from headstart.ledger.reports.compare import CompareReport
from headstart.ledger.reports.efficiency import EfficiencyReport
from headstart.ledger.reports.sessions import SessionsReport
from headstart.ledger.reports.spend import SpendReport
from headstart.ledger.reports.verdicts import VerdictReport

Rows = tuple[list[str], list[dict[str, Any]]]


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def spend_rows(report: SpendReport) -> Rows:
    rows = []
    for series in report.series:
        for point in series.points:
            rows.append(
                {
                    report.dimension.value: series.key,
                    "bucket": point.bucket.isoformat(),
                    "cost_usd": point.cost,
                    "tokens": point.tokens,
                    "requests": point.requests,
                    "growth": _share(point.growth),
                }
            )
    for point in report.baseline:
        rows.append(
            {
                report.dimension.value: "(organisation)",
                "bucket": point.bucket.isoformat(),
                "cost_usd": point.cost,
                "tokens": "",
                "requests": "",
                "growth": "",
                "per_group_usd": point.per_group,
            }
        )
    columns = [report.dimension.value, "bucket", "cost_usd", "tokens", "requests", "growth"]
    return columns + ["per_group_usd"], rows


def efficiency_rows(report: EfficiencyReport) -> Rows:
    rows = []
    for level, splits in (
        ("all", [report.overall]),
        ("team", report.teams),
        ("engineer", report.engineers),
    ):
        for split in splits:
            row: dict[str, Any] = {"level": level, "key": split.key, "cost_usd": split.cost}
            for name, share in split.shares.items():
                row[name] = _share(share)
            rows.append(row)
    classes = list(report.overall.shares)
    return ["level", "key", "cost_usd", *classes], rows


def budget_rows(report: BudgetReport) -> Rows:
    rows: list[dict[str, Any]] = [
        {
            "team": status.team,
            "period": f"{status.period} from {status.period_start}",
            "budget_usd": "" if status.budget is None else status.budget,
            "spent_usd": status.spent,
            "burn_per_day_usd": status.burn_per_day,
            "forecast_usd": status.forecast,
            "forecast_used": _share(status.forecast_used),
            "flag": "over budget"
            if status.over_budget
            else ("will exceed" if status.will_exceed else ""),
        }
        for status in report.teams
    ]
    for outlier in report.outliers:
        rows.append(
            {
                "team": outlier.team or "",
                "period": f"outlier {outlier.kind}: {outlier.key}",
                "spent_usd": outlier.cost,
                "flag": f"z={outlier.z:.1f}",
            }
        )
    columns = [
        "team",
        "period",
        "budget_usd",
        "spent_usd",
        "burn_per_day_usd",
        "forecast_usd",
        "forecast_used",
        "flag",
    ]
    return columns, rows


def verdict_rows(report: VerdictReport) -> Rows:
    rows = []
    for verdict in report.tools:
        rows.append(
            _stats_row("tool", verdict.stats)
            | {
                "verdict": verdict.verdict.value
                + (f" ({', '.join(verdict.scope_to)})" if verdict.scope_to else ""),
                "evidence": "; ".join(
                    verdict.evidence + ([verdict.warning] if verdict.warning else [])
                ),
            }
        )
    for stats in report.models:
        rows.append(_stats_row("model", stats))
    columns = [
        "kind",
        "key",
        "tasks",
        "success_rate",
        "cost_usd",
        "cost_per_productive_task_usd",
        "tokens_per_task",
        "verdict",
        "evidence",
    ]
    return columns, rows


def _stats_row(kind: str, stats: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "key": stats.key,
        "tasks": stats.tasks,
        "success_rate": _share(stats.success_rate),
        "cost_usd": stats.cost,
        "cost_per_productive_task_usd": stats.cost_per_productive_task or "",
        "tokens_per_task": "" if stats.tokens_per_task is None else round(stats.tokens_per_task),
    }


def compare_rows(report: CompareReport) -> Rows:
    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.6g}"

    rows = [
        {
            "metric": metric.metric,
            "before": number(metric.before),
            "after": number(metric.after),
            "difference": number(metric.difference),
            "ci95": "" if metric.ci_low is None else f"[{metric.ci_low:.6g}, {metric.ci_high:.6g}]",
            "p_value": number(metric.p_value),
            "n": f"{metric.n_before} / {metric.n_after}",
            "warning": metric.warning or "",
        }
        for metric in report.metrics
    ]
    return ["metric", "before", "after", "difference", "ci95", "p_value", "n", "warning"], rows


def session_rows(report: SessionsReport) -> Rows:
    rows = [
        {
            "id": item.id,
            "session": item.session or "",
            "tool": item.tool or "",
            "engineer": item.engineer or "",
            "team": item.team or "",
            "work_type": item.work_type,
            "class": item.classification.value,
            "cost_usd": item.cost,
            "commits": item.commits,
            "merged_prs": item.merged_pull_requests,
            "reasons": "; ".join(item.reasons),
        }
        for item in report.items
    ]
    columns = [
        "id",
        "session",
        "tool",
        "engineer",
        "team",
        "work_type",
        "class",
        "cost_usd",
        "commits",
        "merged_prs",
        "reasons",
    ]
    return columns, rows


def report_rows(report: BaseModel) -> Rows:
    """Return (columns, rows) of any report model."""
    for kind, flatten in (
        (SpendReport, spend_rows),
        (EfficiencyReport, efficiency_rows),
        (BudgetReport, budget_rows),
        (VerdictReport, verdict_rows),
        (CompareReport, compare_rows),
        (SessionsReport, session_rows),
    ):
        if isinstance(report, kind):
            return flatten(report)  # type: ignore[operator]
    raise TypeError(f"no table layout for {type(report).__name__}")
