"""Read JSON lines from an offset, tolerating a torn last line and corrupt lines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from headstart.ledger.report import IngestReport
from headstart.ledger.sources.cursors import FileCursor

BRIEF_ID_PATTERN = r"hsb_[0-9a-f]{16}"


def json_lines(
    cursor: FileCursor,
    report: IngestReport,
    wanted: Callable[[bytes], bool] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each JSON object line after `cursor.offset`.

    The cursor advances past every complete line, including corrupt ones (counted in the
    report). A last line without a newline is left for the next ingest unless it already
    parses, because the tool may still be writing it. Line numbers count from the cursor.

    `wanted`, when given, receives each complete line's stripped bytes first. A line it rejects is
    passed over without being parsed, which is how readers skip the bulk of a log cheaply.
    """
    # Counted locally and added once: the report is a pydantic model, slow to update per line.
    read = 0
    try:
        with cursor.path.open("rb") as handle:
            handle.seek(cursor.offset)
            number = 0
            for raw in handle:
                number += 1
                complete = raw.endswith(b"\n")
                read += len(raw)
                stripped = raw.strip()
                if not stripped:
                    cursor.offset += len(raw)
                    continue
                if complete and wanted is not None and not wanted(stripped):
                    cursor.offset += len(raw)
                    continue
                try:
                    value = orjson.loads(stripped)
                except orjson.JSONDecodeError:
                    if not complete:
                        return
                    cursor.offset += len(raw)
                    report.skip("corrupt or truncated JSON line", f"{cursor.path}:+{number}")
                    continue
                cursor.offset += len(raw)
                if not isinstance(value, dict):
                    report.skip("JSON line is not an object", f"{cursor.path}:+{number}")
                    continue
                yield number, value
    finally:
        report.bytes_read += read
