"""What several commands share: settings, the store, and options."""

from __future__ import annotations

from pathlib import Path

import typer

from headstart.config import Settings, load_settings
from headstart.logs import configure_logging
from headstart.store import Embedder, Store

DbOption = typer.Option(None, "--db", help="Store URI (a folder or s3://…); default: the user data directory.")
ModelOption = typer.Option(None, "--model", help="sentence-transformers model name or path [default: all-MiniLM-L6-v2].")
VerboseOption = typer.Option(0, "--verbose", "-v", count=True, help="Log more (-v: info, -vv: debug).")


def setup(db: str | None, model: str | None, verbose: int) -> Settings:
    configure_logging(verbose)
    return load_settings(db=db, model=model)


def open_store(settings: Settings) -> Store:
    embedder = Embedder(settings.model, device=settings.device, batch_size=settings.embed_batch_size)
    if settings.db is None:
        Path(settings.store_uri).mkdir(parents=True, exist_ok=True)
    return Store(settings.store_uri, embedder)
