"""`headstart index`: mine a repository's history into the store."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from headstart.cli.app import app
from headstart.cli.common import DbOption, ModelOption, VerboseOption, setup
from headstart.cli.tables import table_console
from headstart.config import RepositorySource, Settings, default_config_file
from headstart.errors import HeadstartError, InputError
from headstart.indexers.pipeline import BATCH_SIZE, IndexReport, index_repository
from headstart.service import open_store
from headstart.store import LeaseHeldError, Store
from headstart.text import counted

logger = logging.getLogger("headstart.cli.index")
stderr = Console(stderr=True)
FAILED = "failed"
BUSY = "busy"


@app.command()
def index(
    path: Path = typer.Argument(Path("."), help="Repository to index (any folder inside it)."),
    until: str | None = typer.Option(None, "--until", help="Index history up to this revision, not HEAD."),
    renames: bool = typer.Option(
        False, "--renames", help="Detect renamed files in every commit, not only in those adding and deleting at most 30 files (slower)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be indexed and a time estimate."),
    workers: int = typer.Option(
        0, "--workers", show_default=False, help="Processes that read diffs [default: one per CPU]."
    ),
    batch_size: int = typer.Option(
        BATCH_SIZE, "--batch-size", min=1, metavar="<int>", help="Commits embedded and written per store transaction."
    ),
    github: str | None = typer.Option(None, "--github", help="Index pull requests, reviews and bugs of this GitHub repository (owner/name)."),
    gitlab: str | None = typer.Option(None, "--gitlab", help="Index merge requests, notes and bugs of this GitLab project (group/project)."),
    imports: list[Path] = typer.Option([], "--import", metavar="<path>", help="Import a `gh … --json`, GitHub REST dump or Jira CSV/JSON file; repeatable."),
    bug_labels: list[str] = typer.Option([], "--bug-label", metavar="<str>", help="Issue label (or Jira issue type) that marks a bug; repeatable [default: bug]."),
    repo: str | None = typer.Option(None, "--repo", help="Repository name for imported records, as the git index names it (github.com/owner/name); needed for Jira."),
    api_url: str | None = typer.Option(None, "--api-url", help="API base URL for GitHub Enterprise (https://HOST/api/v3) or a self-managed GitLab (https://HOST)."),
    all_sources: bool = typer.Option(False, "--all", help="Index every repository and tracker listed as [[repositories]] in the config file, then print a summary."),
    db: str | None = DbOption,
    model: str | None = ModelOption,
    verbose: int = VerboseOption,
) -> None:
    """Index a repository's commits and pull requests, or a tracker's pull requests, reviews and bugs.

    Example: headstart index ~/src/project --dry-run; headstart index --github pallets/click;
    headstart index --all
    """
    settings = setup(db, model, verbose)
    if all_sources:
        if github or gitlab or imports or until or repo or dry_run or path != Path("."):
            raise InputError(
                "--all indexes what the config file lists; give no PATH, --github, --gitlab, --import, "
                "--repo, --until or --dry-run with it"
            )
        if not settings.repositories:
            raise InputError(
                f"--all found no [[repositories]] in the config file {str(default_config_file())!r}; add entries like "
                '`[[repositories]]` with `path = "/srv/git/api"` and optionally `github = "owner/name"`'
            )
        outcomes = index_all(open_store(settings), settings, workers=workers, batch_size=batch_size)
        _print_summary(outcomes)
        if any(outcome.status == FAILED for outcome in outcomes):
            raise typer.Exit(1)
        return

    if path.is_file():
        # The repository is found from a folder inside it, so a file here is most likely a typo,
        # or a tracker export meant for --import.
        export = ""
        if path.suffix in (".json", ".csv"):
            export = f", or `--import {path}` to import a tracker export"
        raise InputError(
            f"{str(path)!r} is a file, not a folder; pass the repository's folder: "
            f"`headstart index {path.parent}`{export}"
        )
    store = open_store(settings)

    if github or gitlab or imports:
        # The tracker clients are imported only when asked for: a plain index run starts faster.
        from headstart.indexers.trackers.run import run_trackers

        reports = run_trackers(
            store,
            settings.data_dir,
            github=github,
            gitlab=gitlab,
            imports=imports,
            bug_labels=bug_labels or ["bug"],
            repo=repo,
            api_url=api_url,
        )
        for tracker_report in reports:
            _print_tracker_report(tracker_report)
        return

    progress = Progress(
        TextColumn("[bold]indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("commits"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=stderr,
        transient=False,
    )
    task: TaskID | None = None

    def on_progress(done: int, total: int) -> None:
        # Started on the first report, so an error opening the repository prints no empty bar.
        nonlocal task
        if task is None:
            if total == 0:
                return  # Nothing is new, so no empty bar is drawn.
            progress.start()
            task = progress.add_task("index", total=total)
        progress.update(task, completed=done, total=total)

    try:
        report = index_repository(
            store,
            path,
            until=until,
            renames=renames,
            dry_run=dry_run,
            workers=workers,
            batch_size=batch_size,
            max_files_per_commit=settings.max_files_per_commit,
            on_progress=on_progress,
            lease_seconds=settings.index_lease_seconds,
        )
    finally:
        progress.stop()
    _print_report(report)


@dataclass
class Outcome:
    """The result of `index --all` for one `[[repositories]]` entry."""

    label: str
    repo: str = ""
    status: str = "ok"
    commits: int = 0
    pull_requests: int = 0
    tracker_records: int = 0
    seconds: float = 0.0
    message: str = ""


def index_all(store: Store, settings: Settings, *, workers: int = 0, batch_size: int = BATCH_SIZE) -> list[Outcome]:
    """Index each configured repository and tracker in turn; a failure is recorded and the next one runs.

    An entry another job is indexing right now is reported busy, not failed: that job covers it.
    """
    outcomes = []
    for number, source in enumerate(settings.repositories, start=1):
        stderr.print(f"[{number}/{len(settings.repositories)}] {source.label}", markup=False, highlight=False)
        outcome = Outcome(label=source.label)
        started = time.perf_counter()
        try:
            _index_source(store, settings, source, outcome, workers=workers, batch_size=batch_size)
        except LeaseHeldError as exc:
            logger.info("skipped %s: %s", source.label, exc)
            outcome.status, outcome.message = BUSY, str(exc)
        except HeadstartError as exc:
            logger.warning("indexing %s failed: %s", source.label, exc)
            outcome.status, outcome.message = FAILED, str(exc)
        except Exception as exc:
            # Whatever went wrong, one broken repository must not stop the others.
            logger.exception("indexing %s failed", source.label)
            outcome.status, outcome.message = FAILED, f"{type(exc).__name__}: {exc}"
        outcome.seconds = time.perf_counter() - started
        outcomes.append(outcome)
    return outcomes


def _index_source(
    store: Store, settings: Settings, source: RepositorySource, outcome: Outcome, *, workers: int, batch_size: int
) -> None:
    if source.path is not None:
        report = index_repository(
            store,
            source.path,
            until=source.until,
            workers=workers,
            batch_size=batch_size,
            max_files_per_commit=settings.max_files_per_commit,
            lease_seconds=settings.index_lease_seconds,
        )
        outcome.repo = report.plan.repo
        outcome.commits = report.commits_written
        outcome.pull_requests = report.pull_requests_written
        if report.plan.head is None:
            outcome.message = "no commits yet"
    if source.github or source.gitlab:
        from headstart.indexers.trackers.github import TrackerReport
        from headstart.indexers.trackers.run import run_trackers

        reports = run_trackers(
            store,
            settings.data_dir,
            github=source.github,
            gitlab=source.gitlab,
            bug_labels=source.bug_labels,
            repo=source.repo,
            api_url=source.api_url,
        )
        for tracker_report in reports:
            if isinstance(tracker_report, TrackerReport):
                outcome.repo = outcome.repo or tracker_report.repo
                outcome.tracker_records += tracker_report.pull_requests + tracker_report.review_comments + tracker_report.bugs


def _print_summary(outcomes: list[Outcome]) -> None:
    """Print one row per entry, then the message of each entry that did not finish, then the totals."""
    table = Table(title="headstart index --all", title_justify="left")
    for column in ("source", "repository", "result", "commits", "pull requests", "tracker records", "seconds"):
        table.add_column(column, justify="left" if column in {"source", "repository", "result"} else "right")
    for outcome in outcomes:
        table.add_row(
            outcome.label,
            outcome.repo,
            outcome.status,
            str(outcome.commits),
            str(outcome.pull_requests),
            str(outcome.tracker_records),
            f"{outcome.seconds:.1f}",
        )
    table_console().print(table, markup=False, highlight=False)
    for outcome in outcomes:
        if outcome.message:
            typer.echo(f"{outcome.label}: {outcome.status}: {outcome.message}")
    failed = sum(outcome.status == FAILED for outcome in outcomes)
    busy = sum(outcome.status == BUSY for outcome in outcomes)
    typer.echo(f"{len(outcomes) - failed - busy} indexed, {busy} busy, {failed} failed.")


def _print_report(report: IndexReport) -> None:
    plan = report.plan
    if plan.head is None:
        stderr.print(f"{plan.path}: the repository has no commits yet; nothing to index.")
        return
    if not plan.new_commits and not plan.stale_commits:
        typer.echo(f"{plan.repo}: up to date at {plan.head[:10]}; nothing to index.")
        return
    if report.dry_run:
        typer.echo(
            f"{plan.repo}: {counted(len(plan.new_commits), 'commit')} to index "
            f"(up to {plan.pull_requests} of them land pull requests), "
            f"{counted(len(plan.stale_commits), 'indexed commit')} no longer in history; "
            f"estimated time {plan.estimated_seconds:.0f}s (estimate: measured diff rate plus "
            "a typical CPU embedding rate)."
        )
        return
    if plan.stale_commits:
        stderr.print(
            f"history was rewritten: removed {counted(report.records_deleted, 'record')} of "
            f"{counted(len(plan.stale_commits), 'commit')} no longer reachable."
        )
    if report.unknown_line_counts:
        stderr.print(
            f"warning: {report.unknown_line_counts} changed files have unknown line counts, because "
            f"{plan.path} lacks their contents (a partial clone?); index a full clone "
            "(`git clone` without --filter) to count them."
        )
    rate = report.commits_written / report.seconds if report.seconds else 0.0
    typer.echo(
        f"{plan.repo}: indexed {counted(report.commits_written, 'new commit')} and "
        f"{counted(report.pull_requests_written, 'pull request')} in {report.seconds:.1f}s ({rate:.0f} commits/s)."
    )


def _print_tracker_report(report) -> None:
    from headstart.indexers.trackers.imports import ImportReport

    if isinstance(report, ImportReport):
        counts = ", ".join(f"{count} {kind}" for kind, count in sorted(report.written.items())) or "no records"
        typer.echo(f"{report.path}: imported {counts} into {', '.join(sorted(report.repos)) or 'no repository'}.")
        for error in report.errors:
            stderr.print(f"skipped: {error}", markup=False, highlight=False)
        return
    typer.echo(
        f"{report.repo}: {counted(report.pull_requests, 'pull request')}, "
        f"{counted(report.review_comments, 'review comment')} and {counted(report.bugs, 'bug')} "
        f"from {report.source} ({counted(report.requests, 'request')})."
    )
