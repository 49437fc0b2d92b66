"""Read JSON lines from an offset, tolerating a torn last line and corrupt lines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from headstart.ledger.report import IngestReport
from headstart.ledger.sources.cursors import FileCursor

BRIEF_ID_PATTERN = r"hsb_[0-9a-f]{16}"


# The count of complete lines before the cursor's offset, kept in the cursor's state, so the
# lines of a resumed file are numbered from the start of the file.
LINES_READ = "lines_read"


def json_lines(
    cursor: FileCursor,
    report: IngestReport,
    wanted: Callable[[bytes], bool] | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (location, object) for each JSON object line after `cursor.offset`.

    The location is "PATH:LINE". A file resumed from a checkpoint written before line counts
    were kept gives "PATH:+N" instead, counted from the point it resumed at. The cursor
    advances past every complete line, including corrupt ones (counted in the report). A last
    line without a newline is left for the next ingest unless it already parses, because the
    tool may still be writing it.

    `wanted`, when given, receives each complete line's stripped bytes first. A line it rejects is
    passed over without being parsed, which is how readers skip the bulk of a log cheaply.
    """
    known = cursor.state.get(LINES_READ) if cursor.offset else 0
    counted = isinstance(known, int)
    prefix = f"{cursor.path}:" if counted else f"{cursor.path}:+"
    number = consumed = known if counted else 0
    # Counted locally and added once: the report is a pydantic model, slow to update per line.
    read = 0
    try:
        with cursor.path.open("rb") as handle:
            handle.seek(cursor.offset)
            for raw in handle:
                number += 1
                complete = raw.endswith(b"\n")
                read += len(raw)
                stripped = raw.strip()
                if not stripped or (complete and wanted is not None and not wanted(stripped)):
                    cursor.offset += len(raw)
                    consumed = number
                    continue
                try:
                    value = orjson.loads(stripped)
                except orjson.JSONDecodeError:
                    if not complete:
                        return
                    cursor.offset += len(raw)
                    consumed = number
                    report.skip("corrupt or truncated JSON line", f"{prefix}{number}")
                    continue
                cursor.offset += len(raw)
                consumed = number
                if not isinstance(value, dict):
                    report.skip("JSON line is not an object", f"{prefix}{number}")
                    continue
                yield f"{prefix}{number}", value
    finally:
        report.bytes_read += read
        if counted:
            cursor.state[LINES_READ] = consumed
