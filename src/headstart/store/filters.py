"""Building LanceDB filter expressions from values that may contain quotes or backslashes."""

from __future__ import annotations

from collections.abc import Iterable


def quote(value: str) -> str:
    """Quote a string literal for a LanceDB (DataFusion SQL) filter."""
    return "'" + value.replace("'", "''") + "'"


def equals(column: str, value: str) -> str:
    return f"{column} = {quote(value)}"


def is_in(column: str, values: Iterable[str]) -> str:
    items = ", ".join(quote(value) for value in values)
    return f"{column} IN ({items})" if items else "false"


def has(column: str, value: str) -> str:
    """Match rows whose list column contains `value`."""
    return f"array_has({column}, {quote(value)})"


def all_of(*clauses: str | None) -> str | None:
    kept = [f"({clause})" for clause in clauses if clause]
    return " AND ".join(kept) if kept else None
