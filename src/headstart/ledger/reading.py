"""Open each log file at its checkpoint and start parsing what was added to it.

This is the first half of an ingest, and it needs no database library. The command line runs
it with checkpoints read through the standard library's sqlite3 (`unchanged`), so the parse
workers are already busy while the ingest imports SQLAlchemy and opens the ledger. That
import and opening took a fifth of a first ingest's time, with one CPU idle.
`local.write_reads` is the second half.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from headstart.ledger.events import UsageEvent
from headstart.ledger.report import IngestReport
from headstart.ledger.sources import claude_code, codex, cursor_csv, gemini_cli
from headstart.ledger.sources.cursors import FileCursor, open_cursor
from headstart.ledger.sources.parallel import ParallelReads, default_workers

Reader = Callable[[FileCursor, IngestReport], Iterator[UsageEvent]]
READERS: dict[str, Reader] = {
    claude_code.READER: claude_code.read,
    codex.READER: codex.read,
    gemini_cli.READER: gemini_cli.read,
    cursor_csv.READER: cursor_csv.read,
}


class Reads(Protocol):
    def __iter__(self) -> Iterator[tuple[FileCursor, Iterator[UsageEvent]]]: ...

    def close(self) -> None: ...


@dataclass
class Reading:
    """Files being read: their cursors, the reads in progress, and the report so far."""

    report: IngestReport
    to_read: list[FileCursor]
    reads: Reads
    # Unchanged files whose modification time moved: their checkpoints are saved again.
    touched: list[FileCursor] = field(default_factory=list)

    def close(self) -> None:
        self.reads.close()


def start_reading(
    files: Iterable[tuple[str, Path]],
    checkpoints: Mapping[str, Any],
    *,
    workers: int | None = None,
) -> Reading:
    """Open a cursor on each (reader, path) and start reading the files that grew.

    `checkpoints` maps the text of each path to its stored checkpoint. `workers` processes
    parse the files, starting now; 0 parses them as the reads are taken, in this process. The
    default depends on the CPUs and on how much there is to read (`parallel.default_workers`).
    """
    report = IngestReport()
    to_read: list[FileCursor] = []
    touched: list[FileCursor] = []
    for reader_name, path in files:
        checkpoint = checkpoints.get(str(path))
        try:
            cursor = open_cursor(path, reader_name, checkpoint)
        except OSError as exc:
            report.skip(f"cannot read file: {exc.strerror}", str(path))
            continue
        if cursor.unchanged:
            report.files_unchanged += 1
            if cursor.stat.st_mtime_ns != checkpoint.mtime_ns:
                touched.append(cursor)
            continue
        to_read.append(cursor)
    report.files_read += len(to_read)

    if workers is None:
        workers = default_workers(to_read)
    reads: Reads
    if workers > 0:
        reads = ParallelReads(to_read, READERS, report, workers)
    else:
        reads = _read_here(to_read, report)
    return Reading(report, to_read, reads, touched)


def _read_here(
    cursors: list[FileCursor], report: IngestReport
) -> Iterator[tuple[FileCursor, Iterator[UsageEvent]]]:
    for cursor in cursors:
        yield cursor, READERS[cursor.reader](cursor, report)
