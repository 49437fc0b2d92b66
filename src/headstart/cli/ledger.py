"""`headstart ledger …`: ingest agents' usage and price it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from headstart.config import load_settings
from headstart.ledger.discovery import LocalSources, discover, searched_places
from headstart.ledger.pricing import PriceBook, unpriced_fix
from headstart.ledger.report import IngestReport
from headstart.ledger.teams import TeamMap
from headstart.ledger.unchanged import StoredCheckpoints, read_checkpoints
from headstart.memory import collector_off
from headstart.text import counted

# The database layer (SQLAlchemy), the parsers, `push` (httpx) and `summary` (rich tables) are
# imported by the commands that use them. An ingest that finds every file unchanged then
# reports without them, in two fifths of the time.

logger = logging.getLogger("headstart.cli.ledger")

ledger_app = typer.Typer(
    # As in the main app: "[default: …]" in a help text is text, not Rich markup.
    rich_markup_mode=None,
    help="Record and price the tokens coding agents consume.", no_args_is_help=True
)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="SQLAlchemy URL of the ledger. [default: HEADSTART_LEDGER_URL or ledger_url in the "
        "config file, else ledger.sqlite3 in the data directory]",
    ),
]
PricesOption = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        help="Price override file (TOML). [default: HEADSTART_PRICES_FILE or prices_file in the "
        "config file]",
    ),
]
TeamsOption = Annotated[
    Path | None,
    typer.Option(
        "--teams",
        help="teams.toml mapping people and repositories to teams. [default: HEADSTART_TEAMS_FILE "
        "or teams_file in the config file]",
    ),
]


def _database_url(database: str | None) -> str:
    return database or load_settings().ledger_database_url


@ledger_app.command("migrate")
def migrate_command(database: DatabaseOption = None) -> None:
    """Create the ledger database or upgrade it in place to the newest schema.

    Example: headstart ledger migrate --database postgresql+psycopg://user@host/headstart
    """
    from headstart.ledger.db import create_ledger_engine, migrate

    url = _database_url(database)
    engine = create_ledger_engine(url)
    try:
        before, after = migrate(engine)
    finally:
        engine.dispose()
    shown = engine.url.render_as_string(hide_password=True)
    if before == after:
        typer.echo(f"{shown} is up to date (revision {after})")
    else:
        typer.echo(f"{shown} migrated from {before or 'empty'} to revision {after}")


@ledger_app.command("ingest")
def ingest_command(
    claude_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--claude-dir",
            metavar="<path>",
            help="Claude Code config or projects folder; repeatable. [default: CLAUDE_CONFIG_DIR or ~/.config/claude and ~/.claude]",
        ),
    ] = None,
    codex_home: Annotated[
        list[Path] | None,
        typer.Option(
            "--codex-home",
            metavar="<path>",
            help="Codex home folder; repeatable. [default: CODEX_HOME or ~/.codex]",
        ),
    ] = None,
    gemini_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--gemini-file",
            metavar="<path>",
            help="Gemini CLI telemetry outfile; repeatable. [default: telemetry.outfile in ~/.gemini/settings.json]",
        ),
    ] = None,
    cursor_csv: Annotated[
        list[Path] | None,
        typer.Option("--cursor-csv", metavar="<path>", help="Cursor usage CSV export; repeatable."),
    ] = None,
    database: DatabaseOption = None,
    prices: PricesOption = None,
    teams: TeamsOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            metavar="<int>",
            help="Processes that parse logs while this one writes; 0 parses in this one. [default: on Linux, one per CPU (at most 4) for 2 or more files and over 8 MB to read, else 0]",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Read new usage from local agent logs into the ledger; unchanged files are not re-read.

    Example: headstart ledger ingest --claude-dir ~/.claude --cursor-csv usage-events.csv
    """
    settings = load_settings()
    price_book = PriceBook(prices or settings.prices_file)
    team_map = TeamMap.load(teams or settings.teams_file)
    url = _database_url(database)
    sources = LocalSources(
        claude_dirs=claude_dir or [],
        codex_homes=codex_home or [],
        gemini_files=gemini_file or [],
        cursor_csvs=cursor_csv or [],
    )
    files = discover(sources)
    if not files:
        typer.echo(
            f"no agent logs found; looked in: {', '.join(searched_places(sources))}. "
            "Pass --claude-dir, --codex-home, --gemini-file or --cursor-csv to read others.",
            err=True,
        )

    stored = read_checkpoints(url, files)
    unchanged = stored.count_unchanged(files) if stored is not None else None
    if unchanged is not None:
        report = IngestReport(files_unchanged=unchanged)
        logger.info("read 0 files (%d unchanged), 0 events, 0 new records", unchanged)
    else:
        report = _ingest(url, files, stored, price_book, team_map, workers)
    if as_json:
        typer.echo(report.model_dump_json())
    else:
        _print_report(report)


def _ingest(
    url: str,
    files: list[tuple[str, Path]],
    stored: StoredCheckpoints | None,
    prices: PriceBook,
    teams: TeamMap,
    workers: int | None,
) -> IngestReport:
    # Imported with the collector off, as the CLI imports its commands (cli/app.py).
    with collector_off():
        from headstart.ledger.reading import start_reading

    # With the checkpoints already read, the workers start parsing now, while this process
    # loads SQLAlchemy and opens the ledger.
    reading = None
    if stored is not None:
        reading = start_reading(files, stored.rows, workers=workers)
    try:
        with collector_off():
            from headstart.ledger.db import open_ledger
            from headstart.ledger.local import ingest_files, write_reads

        ledger = open_ledger(url)
    except BaseException:
        if reading is not None:
            reading.close()
        raise
    try:
        # Both run the garbage collector rarely themselves (memory.fewer_collections).
        if reading is not None:
            return write_reads(ledger, reading, prices=prices, teams=teams)
        return ingest_files(ledger, files, prices=prices, teams=teams, workers=workers)
    finally:
        ledger.close()


def _print_report(report: IngestReport) -> None:
    typer.echo(
        f"files read: {report.files_read}, unchanged: {report.files_unchanged}, "
        f"bytes read: {report.bytes_read:,}"
    )
    # A log writes one response as several lines, so most reads repeat a request read before,
    # also in a first ingest. They are repeats, not requests stored by an earlier run.
    typer.echo(
        f"requests: {report.inserted:,} new, {report.updated:,} updated; "
        f"{counted(report.duplicates, 'repeat')} of a request already counted; "
        f"session-brief links: {report.brief_links:,}"
    )
    if report.unpriced:
        models = ", ".join(
            f"{model} ({count:,})" for model, count in sorted(report.unpriced_models.items())
        )
        typer.echo(
            f"unpriced: {counted(report.unpriced, 'request')} of {models}; "
            "run `headstart ledger summary` for the fix"
        )
    if report.skipped:
        typer.echo(f"skipped input: {report.skipped_total}")
        for reason, count in sorted(report.skipped.items(), key=lambda item: -item[1]):
            typer.echo(f"  {count} × {reason}")
        for example in report.examples:
            typer.echo(f"  e.g. {example}")


@ledger_app.command("push")
def push_command(
    server: Annotated[
        str, typer.Option("--server", help="Base URL of the central Headstart server.")
    ],
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="The server's api_token, sent as a Bearer token.",
            envvar="HEADSTART_PUSH_TOKEN",
        ),
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size", min=1, max=5000, metavar="<int>", help="Records per request."
        ),
    ] = 500,
    database: DatabaseOption = None,
) -> None:
    """Send locally ingested records the server has not received yet.

    Example: headstart ledger push --server https://headstart.example.com --token "$TOKEN"
    """
    from headstart.ledger.db import open_ledger
    from headstart.ledger.push import push as push_records

    # A mistyped --database must not leave an empty ledger behind, with nothing to push.
    ledger = open_ledger(_database_url(database), create=False)
    try:
        report = push_records(ledger, server, token, batch_size=batch_size)
    finally:
        ledger.close()
    typer.echo(f"pushed {report.records} records in {report.batches} batches to {report.server}")


@ledger_app.command("assign-teams")
def assign_teams_command(database: DatabaseOption = None, teams: TeamsOption = None) -> None:
    """Give the requests, sessions and engineers that have no team the one teams.toml names now.

    Example: headstart ledger assign-teams --teams teams.toml
    """
    from headstart.errors import InputError
    from headstart.ledger.db import open_ledger
    from headstart.ledger.reassign import assign_teams

    path = teams or load_settings().teams_file
    if path is None:
        raise InputError("no team file to assign from; pass --teams teams.toml or set teams_file")
    team_map = TeamMap.load(path)
    ledger = open_ledger(_database_url(database), create=False)
    try:
        with ledger.session() as session:
            assignment = assign_teams(session, team_map)
    finally:
        ledger.close()
    typer.echo(
        f"assigned teams to {counted(assignment.records, 'request')}, "
        f"{counted(assignment.sessions, 'session')} and {counted(assignment.engineers, 'engineer')} "
        f"that had none, from {path}"
    )


@ledger_app.command("reprice")
def reprice_command(
    database: DatabaseOption = None,
    prices: PricesOption = None,
    everything: Annotated[
        bool,
        typer.Option(
            "--all", help="Price every stored request again, not only the unpriced ones."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Price stored requests again with the current prices: the unpriced ones, or --all.

    Run it after adding a price override for a model the ledger could not price.
    Example: headstart ledger reprice --prices prices.toml
    """
    from headstart.ledger.db import open_ledger
    from headstart.ledger.reprice import reprice

    price_book = PriceBook(prices or load_settings().prices_file)
    ledger = open_ledger(_database_url(database), create=False)
    try:
        report = reprice(ledger, price_book, everything=everything)
    finally:
        ledger.close()

    if as_json:
        typer.echo(report.model_dump_json())
        return
    typer.echo(
        f"priced {counted(report.examined, 'request')} again: {report.changed:,} changed, "
        f"{report.newly_priced:,} priced for the first time"
    )
    if report.unpriced_models:
        models = ", ".join(
            f"{model or '(none)'} ({count:,})" for model, count in report.unpriced_models.items()
        )
        typer.echo(
            f"still unpriced: {models}; {unpriced_fix(next(iter(report.unpriced_models)) or None)}"
        )
    if report.outcomes_stale:
        typer.echo(
            "the verdict and before/after reports read the costs `headstart report analyze` "
            "stored; run it again to update them"
        )


@ledger_app.command("summary")
def summary_command(database: DatabaseOption = None) -> None:
    """Print usage and cost by tool and model, and the models that need a price.

    Example: headstart ledger summary
    """
    from rich.table import Table

    from headstart.cli.tables import table_console
    from headstart.ledger.db import open_ledger
    from headstart.ledger.summary import summarize

    # Read-only: a mistyped --database is an error, not a new, empty ledger.
    ledger = open_ledger(_database_url(database), create=False)
    try:
        summary = summarize(ledger)
    finally:
        ledger.close()

    console = table_console()
    table = Table(title="Usage by tool and model")
    for column in (
        "tool",
        "model",
        "requests",
        "input",
        "cache read",
        "cache write",
        "output",
        "cost (USD)",
        "reported (USD)",
    ):
        table.add_column(column, justify="left" if column in ("tool", "model") else "right")
    for total in summary.totals:
        cost = f"{total.computed_cost:.4f}" + (" + unpriced" if total.unpriced_requests else "")
        table.add_row(
            total.tool,
            total.model or "(none)",
            f"{total.requests:,}",
            f"{total.input_tokens:,}",
            f"{total.cache_read_tokens:,}",
            f"{total.cache_write_tokens:,}",
            f"{total.output_tokens:,}",
            cost,
            f"{total.reported_cost:.4f}" if total.reported_cost is not None else "",
        )
    console.print(table)
    console.print(f"computed cost of priced requests: ${summary.computed_cost:.4f}")

    if summary.unpriced:
        console.print("unpriced models (tokens counted, cost unknown):")
        for item in summary.unpriced:
            console.print(
                f"  {item.tool} {item.model or '(none)'}: {counted(item.requests, 'request')}, "
                f"{counted(item.tokens, 'token')}; fix: {item.fix}"
            )
