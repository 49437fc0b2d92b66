"""Settings and options that several commands share."""

from __future__ import annotations

import typer

from headstart.config import Settings, load_settings
from headstart.logs import configure_logging

DbOption = typer.Option(None, "--db", help="Store URI (a folder or s3://…); default: the user data directory.")
ModelOption = typer.Option(None, "--model", help="sentence-transformers model name or path [default: all-MiniLM-L6-v2].")
VerboseOption = typer.Option(0, "--verbose", "-v", count=True, help="Log more (-v: info, -vv: debug).")


def setup(db: str | None, model: str | None, verbose: int) -> Settings:
    configure_logging(verbose)
    return load_settings(db=db, model=model)

