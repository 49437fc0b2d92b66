"""`headstart report …`: the leaders' reports over the ledger, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.table import Table

from headstart.cli.tables import table_console
from headstart.config import Settings, load_settings
from headstart.ledger.db import open_ledger
from headstart.ledger.errors import LedgerInputError
from headstart.ledger.reports import (
    Cohort,
    Dimension,
    Granularity,
    ReportQuery,
    ReportSettings,
    analyze_outcomes,
    brief_cohorts,
    budget_report,
    compare_report,
    efficiency_report,
    sessions_report,
    spend_report,
    verdict_report,
)
from headstart.ledger.reports.pr_labels import PullRequestLabels
from headstart.ledger.reports.tables import report_rows
from headstart.ledger.teams import TeamMap
from headstart.logs import configure_logging
from headstart.text import counted

report_app = typer.Typer(
    rich_markup_mode=None,  # as the main app: "[default: …]" in help is text, not markup
    help="Report where agents' spend goes, what it produced, and whether briefs paid off.",
    no_args_is_help=True,
)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


DATES = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
# The placeholder that help shows for DATES. Typer's own would list the strftime patterns.
DATE_METAVAR = "<YYYY-MM-DD[THH:MM[:SS]]>"
Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="SQLAlchemy URL of the ledger. [default: HEADSTART_LEDGER_URL or ledger_url in the "
        "config file, else ledger.sqlite3 in the data directory]",
    ),
]
Start = Annotated[
    datetime | None,
    typer.Option("--start", formats=DATES, metavar=DATE_METAVAR, help="First day (UTC), inclusive."),
]
End = Annotated[
    datetime | None,
    typer.Option("--end", formats=DATES, metavar=DATE_METAVAR, help="Last instant (UTC), exclusive."),
]
Every = Annotated[Granularity, typer.Option("--every", help="Bucket of time series.")]
TeamFilter = Annotated[str | None, typer.Option("--team", help="Only this team.")]
EngineerFilter = Annotated[str | None, typer.Option("--engineer", help="Only this engineer.")]
ToolFilter = Annotated[str | None, typer.Option("--tool", help="Only this coding tool.")]
ModelFilter = Annotated[str | None, typer.Option("--model", help="Only this model.")]
RepositoryFilter = Annotated[str | None, typer.Option("--repository", help="Only this repository.")]
Output = Annotated[Format, typer.Option("--format", help="Output format.")]


def _query(
    start: datetime | None,
    end: datetime | None,
    every: Granularity,
    team: str | None,
    engineer: str | None,
    tool: str | None,
    model: str | None,
    repository: str | None,
) -> ReportQuery:
    return ReportQuery(
        start=start,
        end=end,
        granularity=every,
        team=team,
        engineer=engineer,
        tool=tool,
        model=model,
        repository=repository,
    ).check()


def _run(database: str | None, build: Any) -> BaseModel:
    settings = load_settings()
    url = database or settings.ledger_database_url
    ledger = open_ledger(url, create=False)
    try:
        with ledger.session() as session:
            return build(session, ReportSettings.from_settings(settings), settings)
    finally:
        ledger.close()


def _emit(report: BaseModel, output: Format) -> None:
    if output is Format.JSON:
        typer.echo(report.model_dump_json(indent=2))
        return
    columns, rows = report_rows(report)
    if output is Format.CSV:
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table(show_lines=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(column, row.get(column, "")) for column in columns))
        table_console().print(table)
    # On stderr, so a CSV on stdout stays clean.
    for warning in getattr(report, "warnings", []) or []:
        typer.echo(f"warning: {warning}", err=True)


def _cell(column: str, value: Any) -> str:
    """Write a table cell for reading: dollars with a sign and cents, counts with separators.

    CSV and JSON keep the plain numbers, for other programs.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if column.endswith("_usd") and isinstance(value, (int, float, Decimal)):
        return f"${value:,.4f}" if 0 < abs(value) < 1 else f"${value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@report_app.command("analyze")
def analyze_command(
    database: Database = None,
    output: Annotated[
        Format, typer.Option("--format", help="Output format: table (a summary line) or json.")
    ] = Format.TABLE,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log more (-v: info, -vv: debug).")
    ] = 0,
) -> None:
    """Link sessions and tasks to their commits and classify them; run before the other reports.

    Run it where the repositories are cloned, since commits are read from git. Labels of pull
    requests in the index store, when there is one, decide the type of work.
    Example: headstart report analyze
    """
    configure_logging(verbose)

    def build(session: Any, rules: ReportSettings, settings: Settings) -> BaseModel:
        return analyze_outcomes(session, settings=rules, labels=_store_labels(settings))

    summary = _run(database, build)
    if output is Format.JSON:
        typer.echo(summary.model_dump_json(indent=2))
        return
    if output is Format.CSV:
        raise LedgerInputError("report analyze prints a summary, not rows; use --format table or json")
    classes = ", ".join(f"{name} {count:,}" for name, count in sorted(summary.by_class.items()))
    typer.echo(
        f"analyzed {counted(summary.sessions, 'session')} and {counted(summary.tasks, 'task')}"
        f"{'; work units by class: ' + classes if classes else ''}"
    )
    if summary.without_git:
        typer.echo(
            f"{counted(summary.without_git, 'session')} had no git repository on this machine, so "
            "their commits were not read; run analyze where the repositories are cloned"
        )


def _store_labels(settings: Settings) -> PullRequestLabels | None:
    """Read pull request labels from the store only when one exists; never create it here."""
    uri = settings.store_uri
    if "://" not in uri and not Path(uri).expanduser().exists():
        return None
    # Imported here: the store loads LanceDB, which the other reports never need.
    from headstart.service import open_store

    return PullRequestLabels(open_store(settings))


@report_app.command("spend")
def spend_command(
    by: Annotated[Dimension, typer.Option("--by", help="Group spend by this.")] = Dimension.TEAM,
    start: Start = None,
    end: End = None,
    every: Every = Granularity.WEEK,
    team: TeamFilter = None,
    engineer: EngineerFilter = None,
    tool: ToolFilter = None,
    model: ModelFilter = None,
    repository: RepositoryFilter = None,
    output: Output = Format.TABLE,
    database: Database = None,
) -> None:
    """Show spend per bucket and group, with growth and the organisation's baseline.

    Example: headstart report spend --by model --every month --start 2026-01-01
    """
    query = _query(start, end, every, team, engineer, tool, model, repository)
    _emit(
        _run(database, lambda session, _r, _s: spend_report(session, query, dimension=by)), output
    )


@report_app.command("efficiency")
def efficiency_command(
    start: Start = None,
    end: End = None,
    team: TeamFilter = None,
    engineer: EngineerFilter = None,
    tool: ToolFilter = None,
    model: ModelFilter = None,
    repository: RepositoryFilter = None,
    output: Output = Format.TABLE,
    database: Database = None,
) -> None:
    """Show the share of spend that was productive, inefficient, wasteful or pending.

    Example: headstart report efficiency --start 2026-11-01 --format csv
    """
    query = _query(start, end, Granularity.DAY, team, engineer, tool, model, repository)
    _emit(_run(database, lambda session, _r, _s: efficiency_report(session, query)), output)


@report_app.command("budgets")
def budgets_command(
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=DATES,
            metavar=DATE_METAVAR,
            help="Judge budgets at this instant. [default: now]",
        ),
    ] = None,
    teams: Annotated[
        Path | None,
        typer.Option(
            "--teams",
            help="teams.toml with budgets. [default: HEADSTART_TEAMS_FILE or teams_file in the "
            "config file]",
        ),
    ] = None,
    start: Start = None,
    end: End = None,
    team: TeamFilter = None,
    output: Output = Format.TABLE,
    database: Database = None,
) -> None:
    """Show each team's budget, burn rate and forecast, and spend outliers.

    Example: headstart report budgets --teams teams.toml
    """
    query = _query(start, end, Granularity.DAY, team, None, None, None, None)
    moment = as_of.replace(tzinfo=UTC) if as_of and as_of.tzinfo is None else as_of

    def build(session: Any, rules: ReportSettings, settings: Any) -> BaseModel:
        budgets = TeamMap.load(teams or settings.teams_file).budgets
        return budget_report(session, query, budgets, settings=rules, as_of=moment)

    _emit(_run(database, build), output)


@report_app.command("verdicts")
def verdicts_command(
    start: Start = None,
    end: End = None,
    team: TeamFilter = None,
    repository: RepositoryFilter = None,
    output: Output = Format.TABLE,
    database: Database = None,
) -> None:
    """Judge each tool keep, scope or cut, and compare models, with the evidence.

    Example: headstart report verdicts --start 2026-10-01 --format json
    """
    query = _query(start, end, Granularity.DAY, team, None, None, None, repository)
    _emit(
        _run(database, lambda session, rules, _s: verdict_report(session, query, settings=rules)),
        output,
    )


def _range(text: str | None, label: str) -> Cohort | None:
    if text is None:
        return None
    first, separator, last = text.partition("..")
    if not separator:
        raise LedgerInputError(
            f"invalid {label} range {text!r}: expected START..END, e.g. 2026-10-01..2026-11-01"
        )
    try:
        start = datetime.fromisoformat(first).replace(tzinfo=UTC) if first else None
        end = datetime.fromisoformat(last).replace(tzinfo=UTC) if last else None
    except ValueError as exc:
        raise LedgerInputError(f"invalid {label} range {text!r}: {exc}") from exc
    return Cohort(label=f"{label} {text}", start=start, end=end)


@report_app.command("compare")
def compare_command(
    before: Annotated[
        str | None, typer.Option("--before", help="Before cohort as START..END (dates, UTC).")
    ] = None,
    after: Annotated[
        str | None, typer.Option("--after", help="After cohort as START..END (dates, UTC).")
    ] = None,
    brief: Annotated[
        bool,
        typer.Option(
            "--brief", help="Compare sessions without a brief (before) and with one (after)."
        ),
    ] = False,
    start: Start = None,
    end: End = None,
    team: TeamFilter = None,
    tool: ToolFilter = None,
    output: Output = Format.TABLE,
    database: Database = None,
) -> None:
    """Compare two cohorts on tokens, cost, merged PRs, first-try success and rework.

    Example: headstart report compare --before 2026-09-01..2026-10-01 --after 2026-10-01..2026-11-01
    """
    query = _query(start, end, Granularity.DAY, team, None, tool, None, None)
    if brief:
        first, second = brief_cohorts()
    else:
        first, second = _range(before, "before"), _range(after, "after")
        if first is None or second is None:
            raise LedgerInputError("give --before and --after date ranges, or --brief")
    _emit(
        _run(
            database,
            lambda session, rules, _s: compare_report(
                session, query, first, second, settings=rules
            ),
        ),
        output,
    )


@report_app.command("sessions")
def sessions_command(
    classification: Annotated[
        str | None,
        typer.Option("--class", help="Only productive, inefficient, wasteful or pending."),
    ] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", help="Only session or task rows. [default: both]")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows to show.")] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Rows to skip.")] = 0,
    start: Start = None,
    end: End = None,
    team: TeamFilter = None,
    engineer: EngineerFilter = None,
    tool: ToolFilter = None,
    output: Output = Format.TABLE,
    database: Database = None,
) -> None:
    """List sessions and tasks, most expensive first, with their class and its reasons.

    Example: headstart report sessions --class wasteful --team platform
    """
    query = _query(start, end, Granularity.DAY, team, engineer, tool, None, None)
    _emit(
        _run(
            database,
            lambda session, _r, _s: sessions_report(
                session,
                query,
                classification=classification,
                unit=unit,
                limit=limit,
                offset=offset,
            ),
        ),
        output,
    )
