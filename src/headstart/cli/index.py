"""`headstart index`: mine a repository's history into the store."""

from __future__ import annotations

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

from headstart.cli.app import app
from headstart.cli.common import DbOption, ModelOption, VerboseOption, open_store, setup
from headstart.indexers.pipeline import BATCH_SIZE, IndexReport, index_repository
from headstart.indexers.trackers.imports import ImportReport
from headstart.indexers.trackers.run import run_trackers

stderr = Console(stderr=True)


@app.command()
def index(
    path: Path = typer.Argument(Path("."), help="Repository to index (any folder inside it)."),
    until: str | None = typer.Option(None, "--until", help="Index history up to this revision, not HEAD."),
    renames: bool = typer.Option(False, "--renames", help="Detect renamed files (slower)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be indexed and a time estimate."),
    workers: int = typer.Option(0, "--workers", help="Processes that read diffs [default: one per CPU]."),
    batch_size: int = typer.Option(
        BATCH_SIZE, "--batch-size", min=1, help="Commits embedded and written per store transaction."
    ),
    github: str | None = typer.Option(None, "--github", help="Index pull requests, reviews and bugs of this GitHub repository (owner/name)."),
    gitlab: str | None = typer.Option(None, "--gitlab", help="Index merge requests, notes and bugs of this GitLab project (group/project)."),
    imports: list[Path] = typer.Option([], "--import", help="Import a `gh … --json`, GitHub REST dump or Jira CSV/JSON file; repeatable."),
    bug_labels: list[str] = typer.Option([], "--bug-label", help="Issue label (or Jira issue type) that marks a bug; repeatable [default: bug]."),
    repo: str | None = typer.Option(None, "--repo", help="Repository name for imported records, as the git index names it (github.com/owner/name); needed for Jira."),
    api_url: str | None = typer.Option(None, "--api-url", help="API base URL for GitHub Enterprise (https://HOST/api/v3) or a self-managed GitLab (https://HOST)."),
    db: str | None = DbOption,
    model: str | None = ModelOption,
    verbose: int = VerboseOption,
) -> None:
    """Index a repository's commits and pull requests, or a tracker's pull requests, reviews and bugs.

    Example: headstart index ~/src/project --dry-run; headstart index --github pallets/click
    """
    settings = setup(db, model, verbose)
    store = open_store(settings)

    if github or gitlab or imports:
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
        )
    finally:
        progress.stop()
    _print_report(report)


def _print_report(report: IndexReport) -> None:
    plan = report.plan
    if plan.head is None:
        stderr.print(f"{plan.path}: the repository has no commits yet; nothing to index.")
        return
    if plan.shallow:
        stderr.print(f"warning: {plan.path} is a shallow clone; only the commits it holds are indexed.")
    if report.dry_run:
        typer.echo(
            f"{plan.repo}: {len(plan.new_commits)} commits to index "
            f"({plan.pull_requests} pull requests among them), "
            f"{len(plan.stale_commits)} indexed commits no longer in history; "
            f"estimated time {plan.estimated_seconds:.0f}s (estimate: measured diff rate plus "
            "a typical CPU embedding rate)."
        )
        return
    if plan.stale_commits:
        stderr.print(
            f"history was rewritten: removed {report.records_deleted} records of "
            f"{len(plan.stale_commits)} commits no longer reachable."
        )
    rate = report.commits_written / report.seconds if report.seconds else 0.0
    typer.echo(
        f"{plan.repo}: indexed {report.commits_written} new commits and "
        f"{report.pull_requests_written} pull requests in {report.seconds:.1f}s ({rate:.0f} commits/s)."
    )


def _print_tracker_report(report) -> None:  # noqa: ANN001 - a TrackerReport or ImportReport
    if isinstance(report, ImportReport):
        counts = ", ".join(f"{count} {kind}" for kind, count in sorted(report.written.items())) or "no records"
        typer.echo(f"{report.path}: imported {counts} into {', '.join(sorted(report.repos)) or 'no repository'}.")
        for error in report.errors:
            stderr.print(f"skipped: {error}", markup=False, highlight=False)
        return
    typer.echo(
        f"{report.repo}: {report.pull_requests} pull requests, {report.review_comments} review comments "
        f"and {report.bugs} bugs from {report.source} ({report.requests} requests)."
    )
