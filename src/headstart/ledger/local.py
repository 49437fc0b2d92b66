"""Find the coding agents' local logs and ingest what was added since the last run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing
from pathlib import Path

from headstart.ledger.bulk_load import deferred_indexes
from headstart.ledger.db import Ledger
from headstart.ledger.discovery import LocalSources, discover
from headstart.ledger.events import UsageEvent
from headstart.ledger.ingest import default_attribution, record_events
from headstart.ledger.pricing import PriceBook
from headstart.ledger.report import IngestReport
from headstart.ledger.sources import claude_code, codex, cursor_csv, gemini_cli
from headstart.ledger.sources.files import FileCursor, load_checkpoints, open_cursor, save_cursors
from headstart.ledger.sources.parallel import bytes_to_read, default_workers, read_in_workers
from headstart.ledger.teams import TeamMap
from headstart.memory import fewer_collections

logger = logging.getLogger("headstart.ledger.local")

Reader = Callable[[FileCursor, IngestReport], Iterator[UsageEvent]]
READERS: dict[str, Reader] = {
    claude_code.READER: claude_code.read,
    codex.READER: codex.read,
    gemini_cli.READER: gemini_cli.read,
    cursor_csv.READER: cursor_csv.read,
}
# Events are written in batches; a file's checkpoint is saved once all its events are written.
FLUSH_EVENTS = 10_000


@fewer_collections()
def ingest_files(
    ledger: Ledger,
    files: Iterable[tuple[str, Path]],
    *,
    prices: PriceBook | None = None,
    teams: TeamMap | None = None,
    workers: int | None = None,
) -> IngestReport:
    """Read new lines of each file and record their events; checkpoints follow the data.

    `workers` processes parse the files while this one writes; 0 parses here. The default
    depends on the CPUs and on how much there is to read (`parallel.default_workers`).
    """
    report = IngestReport()
    buffer: list[UsageEvent] = []
    finished: list[FileCursor] = []

    def flush() -> None:
        if buffer:
            record_events(ledger, buffer, prices=prices, teams=teams, report=report)
            buffer.clear()
        if finished:
            with ledger.session() as session:
                save_cursors(session, finished)
            finished.clear()

    files = list(files)
    with ledger.session() as session:
        checkpoints = load_checkpoints(session, [path for _, path in files])

    to_read: list[FileCursor] = []
    for reader_name, path in files:
        try:
            cursor = open_cursor(path, reader_name, checkpoints.get(str(path)))
        except OSError as exc:
            report.skip(f"cannot read file: {exc.strerror}", str(path))
            continue
        if cursor.unchanged:
            report.files_unchanged += 1
            if cursor.stat.st_mtime_ns != checkpoints[str(path)].mtime_ns:
                finished.append(cursor)
            continue
        to_read.append(cursor)

    report.files_read += len(to_read)
    if workers is None:
        workers = default_workers(to_read)
    if to_read and (prices is None or teams is None):
        # Resolved once here, not in every flush, so the price cache lasts the whole ingest.
        defaults = default_attribution()
        prices = prices or defaults.prices
        teams = teams or defaults.teams
    reads = (
        read_in_workers(to_read, READERS, report, workers)
        if workers > 0
        else ((cursor, READERS[cursor.reader](cursor, report)) for cursor in to_read)
    )
    # Closed on the way out, so workers stop at once if a write fails.
    with deferred_indexes(ledger, bytes_to_read(to_read)), closing(reads):
        for cursor, events in reads:
            try:
                for event in events:
                    buffer.append(event)
                    if len(buffer) >= FLUSH_EVENTS:
                        flush()
            except OSError as exc:
                # Keep what was read; the file's checkpoint is not advanced, so it is retried.
                report.skip(f"cannot read file: {exc.strerror}", str(cursor.path))
                continue
            finished.append(cursor)
            if len(finished) >= 500:
                flush()
        flush()

    logger.info(
        "read %d files (%d unchanged), %d events, %d new records",
        report.files_read,
        report.files_unchanged,
        report.events,
        report.inserted,
    )
    return report


def ingest_local(
    ledger: Ledger,
    sources: LocalSources | None = None,
    *,
    prices: PriceBook | None = None,
    teams: TeamMap | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    workers: int | None = None,
) -> IngestReport:
    """Ingest Claude Code, Codex, Gemini CLI and Cursor logs found locally or named in `sources`."""
    files = discover(sources or LocalSources(), environ, home)
    return ingest_files(ledger, files, prices=prices, teams=teams, workers=workers)
