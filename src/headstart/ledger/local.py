"""Find the coding agents' local logs and ingest what was added since the last run."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path

from headstart.ledger.bulk_load import deferred_indexes
from headstart.ledger.db import Ledger
from headstart.ledger.discovery import LocalSources, discover
from headstart.ledger.events import UsageEvent
from headstart.ledger.ingest import default_attribution, record_events
from headstart.ledger.pricing import PriceBook
from headstart.ledger.reading import Reading, start_reading
from headstart.ledger.report import IngestReport
from headstart.ledger.sources.cursors import FileCursor
from headstart.ledger.sources.files import load_checkpoints, save_cursors
from headstart.ledger.sources.parallel import bytes_to_read
from headstart.ledger.teams import TeamMap
from headstart.memory import fewer_collections

logger = logging.getLogger("headstart.ledger.local")

# Events are written in batches; a file's checkpoint is saved once all its events are written.
FLUSH_EVENTS = 10_000


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
    files = list(files)
    with ledger.session() as session:
        checkpoints = load_checkpoints(session, [path for _, path in files])
    reading = start_reading(files, checkpoints, workers=workers)
    return write_reads(ledger, reading, prices=prices, teams=teams)


@fewer_collections()
def write_reads(
    ledger: Ledger,
    reading: Reading,
    *,
    prices: PriceBook | None = None,
    teams: TeamMap | None = None,
) -> IngestReport:
    """Record the events of `reading` as they come, then each file's checkpoint; close it."""
    report = reading.report
    buffer: list[UsageEvent] = []
    finished: list[FileCursor] = list(reading.touched)

    if reading.to_read and (prices is None or teams is None):
        # Resolved once here, not in every flush, so the price cache lasts the whole ingest.
        defaults = default_attribution()
        prices = prices or defaults.prices
        teams = teams or defaults.teams

    def flush() -> None:
        if buffer:
            record_events(ledger, buffer, prices=prices, teams=teams, report=report)
            buffer.clear()
        if finished:
            with ledger.session() as session:
                save_cursors(session, finished)
            finished.clear()

    # Closed on the way out, so workers stop at once if a write fails.
    with deferred_indexes(ledger, bytes_to_read(reading.to_read)), closing(reading):
        for cursor, events in reading.reads:
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
