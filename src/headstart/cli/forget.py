"""`headstart forget`: remove a repository and everything kept for it from the store."""

from __future__ import annotations

import typer

from headstart.cli.app import app
from headstart.cli.common import DbOption, ModelOption, VerboseOption, setup
from headstart.service import Headstart
from headstart.text import counted


@app.command()
def forget(
    repo: str = typer.Argument(
        ..., help="The repository: its indexed name, or the folder it was indexed from."
    ),
    db: str | None = DbOption,
    model: str | None = ModelOption,
    verbose: int = VerboseOption,
) -> None:
    """Remove a repository from the store: its records, statistics, identifiers and checkpoints.

    Other repositories stay as they are. Index it again with `headstart index PATH`.
    Example: headstart forget ~/src/scratch
    """
    settings = setup(db, model, verbose)
    name, removed = Headstart(settings).forget(repo)
    typer.echo(f"forgot {name}: {_summary(removed)} removed from the store")


def _summary(removed: dict[str, int]) -> str:
    """Write counts by kind as "110 commits and 3 pull requests", commits and pull requests first."""
    first = ["commit", "pull_request"]
    order = first + sorted(set(removed) - set(first))
    parts = [
        counted(removed.get(kind, 0), kind.replace("_", " "))
        for kind in order
        if kind in first or removed.get(kind)
    ]
    return ", ".join(parts[:-1]) + f" and {parts[-1]}"
