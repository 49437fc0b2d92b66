"""A console for printing tables, on a terminal or through a pipe."""

from __future__ import annotations

from rich.console import Console

# Wide enough that no column of a table printed to a pipe or a file is cut or wrapped.
PIPE_WIDTH = 10_000


def table_console() -> Console:
    """Return a console at the terminal's width, or one that keeps each row on one line when piped."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)
