"""`headstart check`: compare a planned change with what history says it should also touch."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from headstart.cli.app import app
from headstart.cli.common import DbOption, ModelOption, VerboseOption, setup
from headstart.context.check_render import RENDERERS
from headstart.context.diffs import files_in_diff
from headstart.errors import InputError
from headstart.indexers.worktree import changed_files
from headstart.service import Headstart


class CheckFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


@app.command()
def check(
    paths_given: list[str] = typer.Argument(
        None,
        metavar="FILES",
        help="Files the change touches: relative to the repository's root or the current folder, or absolute.",
    ),
    files: list[str] = typer.Option(
        [], "--file", "-f", metavar="<path>", help="A file the change touches (repeatable), as FILES."
    ),
    diff: Path | None = typer.Option(None, "--diff", help="A unified diff to check; '-' reads standard input."),
    base: str = typer.Option("HEAD", "--base", help="Without --file or --diff: check the working tree against this revision."),
    repo: Path = typer.Option(
        Path("."), "--repo", show_default=False, help="The repository [default: the current one]."
    ),
    task: str = typer.Option("", "--task", help="What the change is for; picks the relevant rules."),
    output: CheckFormat = typer.Option(CheckFormat.TEXT, "--format", help="Output format."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when the change leaves out a file that must change with it (a high-priority co-change)."),
    offset: int = typer.Option(0, "--offset", min=0, metavar="<int>", help="Skip this many items (paging)."),
    limit: int = typer.Option(50, "--limit", min=1, metavar="<int>", help="Items per page."),
    no_refresh: bool = typer.Option(False, "--no-refresh", help="Do not catch a stale index up first."),
    db: str | None = DbOption,
    model: str | None = ModelOption,
    verbose: int = VerboseOption,
) -> None:
    """Check a change against co-change rules, guarding tests, fragile areas, rules and owners.

    Example: git diff main | headstart check --diff - --strict
    """
    settings = setup(db, model, verbose)
    if diff is not None:
        text = sys.stdin.read() if str(diff) == "-" else _read(diff)
        paths = files_in_diff(text)
    elif files or paths_given:
        paths = [*(paths_given or []), *files]
    else:
        paths = changed_files(repo, base)
        if not paths:
            typer.echo(f"No changes against {base}; nothing to check.")
            return

    service = Headstart(settings)
    name, path = service.resolve_repo(str(repo))
    freshness = service.freshness(name, path, refresh=not no_refresh, purpose="check")
    if freshness.message:
        # On stderr, so that JSON and SARIF on stdout stay valid. The message reports an index
        # that was just caught up or created, or one that lags HEAD.
        typer.echo(f"note: {freshness.message}", err=True)
    if diff is None and (files or paths_given):
        # A user typed these, so they may be relative to the current folder. Paths from a diff or
        # the working tree are already relative to the root.
        paths = service.resolve_files(paths, repo=str(repo), cwd=Path.cwd())
    result = service.check(paths, repo=name, task=task, limit=limit, offset=offset)
    typer.echo(RENDERERS[output.value](result), nl=False)
    if strict and result.unmet_high_priority:
        raise typer.Exit(1)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError as exc:
        raise InputError(f"could not read the diff {str(path)!r}: {exc.strerror}; pass a readable file or '-'") from exc
