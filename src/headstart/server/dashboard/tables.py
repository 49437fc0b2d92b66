"""The rows behind a chart, as a table the dashboard shows as HTML, JSON or CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass
class Table:
    """Named columns and rows of plain values (str, int, float, Decimal, date, bool or None)."""

    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """Return the rows as JSON-ready dicts; money stays exact as a decimal string."""
        return [
            {column: _json_value(value) for column, value in zip(self.columns, row, strict=True)}
            for row in self.rows
        ]

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if value is None else _text(value) for value in row])
        return buffer.getvalue()

    def cells(self) -> list[list[str]]:
        """Return the rows as text for an HTML table."""
        return [["" if value is None else _text(value) for value in row] for row in self.rows]


def _text(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "; ".join(str(item) for item in value)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
