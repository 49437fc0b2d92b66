"""Every command's --help names what a user can set, not Headstart's or Python's internals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from headstart.cli.app import _register, app

def _command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if hasattr(command, "list_commands"):
        context = command.context_class(command)
        for name in command.list_commands(context):
            yield from _command_paths(command.get_command(context, name), (*path, name))


def _all_paths() -> list[tuple[str, ...]]:
    _register()
    return list(_command_paths(typer.main.get_command(app)))


@pytest.mark.parametrize("path", _all_paths(), ids=" ".join)
def test_help_shows_no_internal_names(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)

    assert result.exit_code == 0, result.output
    assert "Settings." not in result.output
    # NOTE: Typer labels a list *argument* with its Python type and takes no metavar for it, so
    # `check`'s FILES shows <list[str]>; options are held to the rule.
    options = result.output.split("Options:", 1)[-1]
    assert "list[" not in options
    assert not re.search(r"<\w+ range>", result.output)
    assert "%Y" not in result.output


def test_ledger_help_names_default_database() -> None:
    _register()
    result = CliRunner().invoke(app, ["ledger", "summary", "--help"], terminal_width=200)

    assert "HEADSTART_LEDGER_URL" in result.output
    assert "ledger.sqlite3 in the data directory" in result.output
