"""`headstart brief`: print what history says about a task."""

from __future__ import annotations

from pathlib import Path

import typer

from headstart.cli.app import app
from headstart.cli.common import DbOption, ModelOption, VerboseOption, setup
from headstart.context.render import render
from headstart.service import Headstart


@app.command()
def brief(
    task: str = typer.Argument(..., help="The task, in a sentence or a paragraph."),
    files: list[str] = typer.Option(
        [],
        "--file",
        "-f",
        metavar="<path>",
        help="A file the task starts from (repeatable): relative to the repository's root or the "
        "current folder, or absolute.",
    ),
    repo: str | None = typer.Option(None, "--repo", help="Repository path or indexed name [default: current]."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (schema in docs/brief-schema.md)."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=100, metavar="<int>", help="Token budget [default: 1500]."),
    no_refresh: bool = typer.Option(False, "--no-refresh", help="Do not catch a stale index up first."),
    db: str | None = DbOption,
    model: str | None = ModelOption,
    verbose: int = VerboseOption,
) -> None:
    """Brief an agent on a task: likely files, similar past changes, fixes, reverts, co-changes.

    Example: headstart brief "make the session cookie configurable" --repo ~/src/flask
    """
    settings = setup(db, model, verbose)
    output = "json" if as_json else "markdown"
    result = Headstart(settings).brief(
        task,
        repo=repo,
        files=files,
        max_tokens=max_tokens,
        output=output,
        refresh=not no_refresh,
        cwd=Path.cwd(),
    )
    typer.echo(render(result, output), nl=False)
