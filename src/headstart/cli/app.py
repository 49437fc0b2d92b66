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


# Command groups whose modules import neither the index store nor the server. Run alone, one
# of them is the only group registered: importing every command module loads LanceDB, NumPy and
# FastAPI, which takes seconds, and `headstart ledger ingest` needs none of them.
LIGHT_GROUPS = ("ledger", "report")


def _register(only: str | None = None) -> None:
    """Add the commands to `app`: all of them, or only the group named by `only`."""
    # Imported here so each command module can import `app` without a cycle.
    if only is None:
        from headstart.cli import brief, check, eval, index, serve  # noqa: F401
    if only in (None, "ledger"):
        from headstart.cli.ledger import ledger_app

        app.add_typer(ledger_app, name="ledger")
    if only in (None, "report"):
        from headstart.cli.report import report_app

        app.add_typer(report_app, name="report")


def _light_group(arguments: list[str]) -> str | None:
    """Return the group named first on the command line if it is a light one, else None."""
    if arguments and arguments[0] in LIGHT_GROUPS:
        return arguments[0]
    return None


def main() -> None:
    """Run the CLI; Headstart's own errors print one clear line and exit non-zero."""
    _register(_light_group(sys.argv[1:]))
    try:
        app()
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except HeadstartError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
