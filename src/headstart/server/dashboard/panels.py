"""Turn the ledger's reports into the dashboard's panels: a chart, its rows, and its notes.

Everything here is presentation: which report a panel draws, how many groups fit on a chart,
and which numbers go into its rows. The figures themselves come from `headstart.ledger.reports`,
which also enforces the team scope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from headstart.ledger.reports import (
    Cohort,
    Dimension,
    ReportSettings,
    UsageStats,
    brief_cohorts,
    budget_report,
    compare_report,
    efficiency_report,
    spend_report,
    verdict_report,
)
from headstart.ledger.teams import TeamBudget
from headstart.server.dashboard.charts import (
    Chart,
    Interval,
    Series,
    bar_chart,
    interval_chart,
    line_chart,
    percent,
    usd,
)
from headstart.server.dashboard.filters import Filters
from headstart.server.dashboard.tables import Table
from headstart.text import counted

# More groups than these make a chart unreadable. The spend chart sums the other teams into one
# line, and bar charts leave the rest to their rows.
TOP_GROUPS = 6
TOP_BARS = 12

CLASS_COLORS = {
    "productive": "#009E73",
    "inefficient": "#E69F00",
    "wasteful": "#D55E00",
    "pending": "#56B4E9",
    "unanalyzed": "#999999",
}


@dataclass
class Context:
    """The inputs of every panel: the open session, the filters, the scope and the configuration."""

    session: Session
    filters: Filters
    team_scope: str | None
    budgets: Mapping[str, TeamBudget]
    settings: ReportSettings


@dataclass
class Panel:
    """One chart of a page and the rows behind it."""

    key: str
    title: str
    chart: Chart
    table: Table
    notes: list[str] = field(default_factory=list)


def money(value: Decimal | None) -> float | None:
    """Dollars as a float for a chart, rounded to a millionth so the JSON stays short."""
    return None if value is None else round(float(value), 6)


def spend_panel(context: Context) -> Panel:
    """Draw spend over time: the top teams and the rest, or one team against the average team."""
    report = spend_report(
        context.session,
        context.filters.query(),
        dimension=Dimension.TEAM,
        team_scope=context.team_scope,
    )
    categories = [day.isoformat() for day in report.buckets]

    series: list[Series] = []
    if context.filters.team is None:
        for item in report.series[:TOP_GROUPS]:
            series.append(Series(item.key, [money(point.cost) for point in item.points]))
        rest = report.series[TOP_GROUPS:]
        if rest:
            totals = [
                money(sum((item.points[index].cost for item in rest), Decimal(0)))
                for index in range(len(categories))
            ]
            series.append(Series(f"{len(rest)} other teams", totals))
    else:
        for item in report.series:
            series.append(Series(item.key, [money(point.cost) for point in item.points]))
        per_group = {point.bucket: point.per_group for point in report.baseline}
        series.append(
            Series(
                "organisation, per team",
                [money(per_group.get(day, Decimal(0))) for day in report.buckets],
                color="#777777",
            )
        )

    table = Table(["bucket", "team", "cost_usd", "tokens", "requests", "growth"])
    for item in report.series:
        for point in item.points:
            table.rows.append(
                [point.bucket, item.key, point.cost, point.tokens, point.requests, point.growth]
            )

    notes = [f"Total {usd(float(report.cost))} over {counted(report.requests, 'request')}."]
    if report.baseline_growth is not None:
        notes.append(
            f"Organisation growth per {context.filters.granularity.value}: "
            f"{percent(report.baseline_growth)}."
        )
    chart = line_chart("spend", "Spend over time (USD)", categories, series)
    return Panel("spend", "Spend over time", chart, table, notes)


def efficiency_panel(context: Context) -> Panel:
    """Draw the share of spend per class: per team on the overview, per engineer on a team page."""
    report = efficiency_report(
        context.session, context.filters.query(), team_scope=context.team_scope
    )
    splits = report.teams if context.filters.team is None else report.engineers
    shown = splits[:TOP_BARS]
    # Every split lists the same classes, in the report's order.
    classes = list(report.overall.by_class)
    series = [
        Series(name, [round(split.shares[name], 6) for split in shown], CLASS_COLORS.get(name))
        for name in classes
    ]
    chart = bar_chart(
        "efficiency",
        "Share of spend by class",
        [split.key for split in shown],
        series,
        percent,
        stacked=True,
    )

    table = Table(["key", "team", "cost_usd", *[f"{name}_usd" for name in classes]])
    for split in [report.overall, *splits]:
        table.rows.append(
            [split.key, split.team, split.cost, *[split.by_class[name] for name in classes]]
        )

    overall = report.overall
    notes = [
        ", ".join(f"{name} {percent(overall.shares[name])}" for name in classes)
        + f" of {usd(float(overall.cost))}."
    ]
    if len(splits) > len(shown):
        notes.append(
            f"The chart shows the {len(shown)} largest of {len(splits)}; the rows list all."
        )
    return Panel("efficiency", "Efficiency split", chart, table, notes)


def budget_panel(context: Context) -> Panel:
    """Draw each team's spend so far, its forecast to the end of its budget period, and its budget."""
    query = context.filters.query()
    # The budget periods are those of the filter's last day, judged at its end, or now for a
    # period that runs up to today. The query's exclusive end would fall in the next month.
    as_of = min(datetime.now(UTC), query.end - timedelta(microseconds=1))
    report = budget_report(
        context.session,
        query,
        context.budgets,
        team_scope=context.team_scope,
        settings=context.settings,
        as_of=as_of,
    )
    statuses = sorted(
        report.teams,
        key=lambda status: (-(status.forecast_used or 0.0), -status.forecast, status.team),
    )
    shown = statuses[:TOP_BARS]
    chart = bar_chart(
        "budget",
        "Budget burn (USD)",
        [status.team for status in shown],
        [
            Series("spent", [money(status.spent) for status in shown], "#0072B2"),
            Series("forecast", [money(status.forecast) for status in shown], "#56B4E9"),
            Series("budget", [money(status.budget) for status in shown], "#000000"),
        ],
    )

    table = Table(
        [
            "team",
            "period",
            "period_start",
            "budget_usd",
            "spent_usd",
            "burn_per_day_usd",
            "forecast_usd",
            "used",
            "forecast_used",
            "will_exceed",
        ]
    )
    for status in report.teams:
        table.rows.append(
            [
                status.team,
                status.period,
                status.period_start,
                status.budget,
                status.spent,
                status.burn_per_day,
                status.forecast,
                status.used,
                status.forecast_used,
                status.will_exceed,
            ]
        )

    notes = [f"Budget periods as of {report.as_of.date().isoformat()}."]
    exceeding = [status.team for status in report.teams if status.will_exceed]
    if exceeding:
        notes.append("Forecast over budget: " + ", ".join(exceeding) + ".")
    notes += [f"Outlier: {outlier.reason}." for outlier in report.outliers[:5]]
    return Panel("budget", "Budget burn", chart, table, notes)


def models_panel(context: Context) -> Panel:
    """Draw the cost per task and per productive task of each model, and list tool verdicts."""
    report = verdict_report(
        context.session,
        context.filters.query(),
        team_scope=context.team_scope,
        settings=context.settings,
    )
    shown = report.models[:TOP_BARS]
    chart = bar_chart(
        "models",
        "Cost per task by model (USD)",
        [stats.key for stats in shown],
        [
            Series("per task", [money(stats.cost_per_task) for stats in shown]),
            Series(
                "per productive task",
                [money(stats.cost_per_productive_task) for stats in shown],
            ),
        ],
    )

    table = Table(
        [
            "kind",
            "key",
            "verdict",
            "tasks",
            "success_rate",
            "cost_usd",
            "cost_per_task_usd",
            "cost_per_productive_task_usd",
            "tokens_per_task",
            "evidence",
        ]
    )
    for stats in report.models:
        table.rows.append(["model", stats.key, None, *_stats_cells(stats), None])
    for verdict in report.tools:
        evidence = [*verdict.evidence, *([verdict.warning] if verdict.warning else [])]
        table.rows.append(
            ["tool", verdict.tool, verdict.verdict.value, *_stats_cells(verdict.stats), evidence]
        )

    notes = []
    for verdict in report.tools:
        scope = f" to {', '.join(verdict.scope_to)}" if verdict.scope_to else ""
        success = verdict.stats.success_rate
        notes.append(
            f"{verdict.tool}: {verdict.verdict.value}{scope} "
            f"({counted(verdict.stats.tasks, 'task')}, success "
            f"{percent(success) if success is not None else 'unknown'})"
            + (f"; {verdict.warning}" if verdict.warning else "")
            + "."
        )
    return Panel("models", "Model comparison and tool verdicts", chart, table, notes)


def _stats_cells(stats: UsageStats) -> list[object]:
    return [
        stats.tasks,
        stats.success_rate,
        stats.cost,
        stats.cost_per_task,
        stats.cost_per_productive_task,
        stats.tokens_per_task,
    ]


def cohorts(filters: Filters) -> tuple[Cohort, Cohort]:
    """Return the before and after cohorts: split at the `split` date if given, else by brief."""
    if filters.split is None:
        return brief_cohorts()
    split = datetime(filters.split.year, filters.split.month, filters.split.day, tzinfo=UTC)
    return (
        Cohort(label=f"before {filters.split.isoformat()}", end=split),
        Cohort(label=f"from {filters.split.isoformat()}", start=split),
    )


def compare_panel(context: Context) -> Panel:
    """Draw the relative change of each metric from the before to the after cohort, with its CI."""
    before, after = cohorts(context.filters)
    report = compare_report(
        context.session,
        context.filters.query(),
        before,
        after,
        team_scope=context.team_scope,
        settings=context.settings,
    )

    rows = []
    for metric in report.metrics:
        if metric.relative is None or not metric.before:
            continue
        low = metric.ci_low / metric.before if metric.ci_low is not None else None
        high = metric.ci_high / metric.before if metric.ci_high is not None else None
        rows.append(
            Interval(
                metric.metric,
                round(metric.relative, 6),
                None if low is None else round(low, 6),
                None if high is None else round(high, 6),
                "too few tasks" if metric.warning else "",
            )
        )
    chart = interval_chart("compare", f"Change from {before.label} to {after.label}", rows, percent)

    table = Table(
        [
            "metric",
            "unit",
            "before",
            "after",
            "difference",
            "relative",
            "ci_low",
            "ci_high",
            "p_value",
            "n_before",
            "n_after",
            "warning",
        ]
    )
    for metric in report.metrics:
        table.rows.append(
            [
                metric.metric,
                metric.unit,
                metric.before,
                metric.after,
                metric.difference,
                metric.relative,
                metric.ci_low,
                metric.ci_high,
                metric.p_value,
                metric.n_before,
                metric.n_after,
                metric.warning,
            ]
        )

    notes = [
        (
            f"{report.before.label}: {counted(report.before.tasks, 'task')}; "
            f"{report.after.label}: {counted(report.after.tasks, 'task')}. "
            "Whiskers are 95% bootstrap intervals."
        )
    ]
    notes += [warning[0].upper() + warning[1:] + "." for warning in report.warnings]
    return Panel("compare", "Before and after", chart, table, notes)


PanelBuilder = Callable[[Context], Panel]

PANELS: dict[str, PanelBuilder] = {
    "spend": spend_panel,
    "efficiency": efficiency_panel,
    "budget": budget_panel,
    "models": models_panel,
    "compare": compare_panel,
}
