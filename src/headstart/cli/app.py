"""The root Typer application and the wiring of its commands."""

from __future__ import annotations

import logging
import sys

import typer

from headstart.errors import HeadstartError, InputError

logger = logging.getLogger("headstart.cli")

app = typer.Typer(
    name="headstart",
    help="Brief coding agents from a repository's history, and keep a ledger of their tokens.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    # Imported here so each command module can import `app` without a cycle.
    from headstart.cli import brief, check, eval, index, serve  # noqa: F401
    from headstart.cli.ledger import ledger_app

    app.add_typer(ledger_app, name="ledger")


def main() -> None:
    """Run the CLI; Headstart's own errors print one clear line and exit non-zero."""
    _register()
    try:
        app()
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except HeadstartError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
