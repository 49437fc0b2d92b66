"""`headstart history`: the past commits and pull requests of one file, newest first."""

from __future__ import annotations

from pathlib import Path

import typer

from headstart.cli.app import app
from headstart.cli.common import DbOption, ModelOption, VerboseOption, setup
from headstart.context.models import HistoryPage
from headstart.context.render import quote_data
from headstart.errors import InputError
from headstart.service import Headstart
from headstart.text import counted


@app.command()
def history(
    path: str = typer.Argument(
        ...,
        help="The file: relative to the repository's root or the current folder, or absolute.",
    ),
    repo: str | None = typer.Option(
        None, "--repo", help="Repository path or indexed name [default: current]."
    ),
    limit: int = typer.Option(10, "--limit", min=1, max=100, metavar="<int>", help="Changes per page."),
    offset: int = typer.Option(
        0, "--offset", min=0, metavar="<int>", help="Changes to skip: the next page's offset."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the page as JSON."),
    db: str | None = DbOption,
    model: str | None = ModelOption,
    verbose: int = VerboseOption,
) -> None:
    """Show the commits and pull requests that changed a file, newest first, a page at a time.

    A file renamed since keeps its history under the name it has at the indexed head, and an
    old name finds it too. The same as the MCP tool get_file_history.
    Example: headstart history src/flask/sessions.py --repo ~/src/flask
    """
    settings = setup(db, model, verbose)
    page = Headstart(settings).file_history(
        path, repo=repo, limit=limit, offset=offset, cwd=Path.cwd()
    )
    if not page.items and page.path_exists is False and offset == 0:
        # The path is a file of the working tree that no indexed commit changed.
        raise InputError(
            f"{page.path!r} has no history in {page.repo} yet: it is in the working tree but not "
            "at the indexed head (a new file, or one committed since); commit it, then run "
            "`headstart index`"
        )
    if as_json:
        typer.echo(page.model_dump_json(indent=2))
        return
    typer.echo(_render(page), nl=False)


def _render(page: HistoryPage) -> str:
    item_range = f"{page.offset + 1}–{page.offset + len(page.items)}" if page.items else "none"
    total = f" of {counted(page.total, 'change')}" if page.total is not None else ""
    lines = [f"# History of `{page.path}` in {page.repo}: {item_range}{total}", ""]
    if page.path_exists is False:
        lines += ["_The file does not exist at the indexed head._", ""]
    for item in page.items:
        name = f"PR {item.key}" if item.kind == "pull_request" else f"commit {item.key[:10]}"
        authors = f", {', '.join(item.authors[:2])}" if item.authors else ""
        lines.append(f"- {name} {quote_data(item.title, 120)} ({item.date:%Y-%m-%d}{authors})")
        if item.links:
            lines.append(f"  {'; '.join(_link_text(link) for link in item.links[:3])}")
        others = [f"`{path}`" for path in item.files if path != page.path]
        if others:
            more = item.files_total - len(item.files)
            lines.append(f"  with {', '.join(others)}" + (f" and {more} more" if more > 0 else ""))
    if page.next_offset is not None:
        lines += ["", f"More: --offset {page.next_offset}"]
    return "\n".join(lines) + "\n"


def _link_text(link: str) -> str:
    """Write a link such as "lands pull_request:#12" as "lands PR #12"."""
    relation, _, target = link.partition(" ")
    kind, _, key = target.partition(":")
    if kind == "pull_request":
        return f"{relation} PR {key}"
    if kind == "commit":
        return f"{relation} commit {key[:10]}"
    return f"{relation} {kind} {key}" if key else link
