"""The `headstart` command: a thin layer over the functions the server also calls."""

from __future__ import annotations

from headstart.cli.app import app, main

__all__ = ["app", "main"]
