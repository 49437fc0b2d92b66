"""Parse log files in worker processes while the calling process writes what they found.

Parsing and writing each take about a third of a first ingest's time. Files are independent,
so forked workers parse them and the caller records their events as they arrive. Results come
back in the order of the files, with each file's cursor and report, so the ledger ends up as
a serial read leaves it, and so do the report's counts of events, files and skipped lines. A
worker sends only the richest read of each request in a file. So where a serial read counts a
snapshot that arrives in a later batch as an update, the workers count a duplicate. Only
a few jobs are in flight at a time, which bounds memory whatever the size of the tree.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from headstart.ledger.events import UsageEvent
from headstart.ledger.reads import merge_by_key
from headstart.ledger.report import IngestReport
from headstart.ledger.sources.built import event_parts, rebuild_event
from headstart.ledger.sources.cursors import FileCursor

logger = logging.getLogger(__name__)

Reader = Callable[[FileCursor, IngestReport], Iterator[UsageEvent]]

# A job is a run of files holding at least this many bytes to read (or JOB_FILES files), so
# a tree of many small files does not pay the hand-over cost per file.
JOB_BYTES = 2_000_000
JOB_FILES = 64
# Jobs in flight per worker. With 3, the workers sat idle while the caller wrote a batch.
JOBS_PER_WORKER = 12
# Below this many bytes to read, starting workers costs more than it saves.
MIN_PARALLEL_BYTES = 8_000_000
MAX_WORKERS = 4
# The writing process is an ingest's bottleneck, and the workers get ahead of it. On a machine
# with idle CPUs they run at this niceness, so the writer has a CPU whenever it can run. On 2
# vCPUs, a first ingest of the benchmark tree took 2.50 s instead of 2.68 s (medians of 8).
# On a busy machine they keep the default niceness, or the writer would wait for workers
# starved by other jobs.
WORKER_NICENESS = 10


@dataclass
class FileRead:
    """The result of reading one file in a worker: the cursor's new position, events and error."""

    offset: int
    state: dict[str, Any]
    events: list[tuple[dict[str, Any], set[str] | None]] = field(default_factory=list)
    error: OSError | None = None


# Set in the caller before the workers fork, so they inherit it.
_readers: dict[str, Reader] = {}


def default_workers(to_read: list[FileCursor]) -> int:
    """Return how many worker processes to parse `to_read` with; 0 means in this process.

    Workers are forked, so they start at once and share the imported modules. Forking a process
    that runs other threads can copy a held lock, so such a process (a server) reads serially,
    as it does where fork is not available.
    """
    if sys.platform != "linux" or threading.active_count() > 1:
        return 0
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    if len(to_read) < 2 or bytes_to_read(to_read) < MIN_PARALLEL_BYTES:
        return 0
    return min(len(os.sched_getaffinity(0)), MAX_WORKERS, len(to_read))


def bytes_to_read(cursors: Iterable[FileCursor]) -> int:
    return sum(max(cursor.stat.st_size - cursor.offset, 0) for cursor in cursors)


def _jobs(cursors: list[FileCursor]) -> Iterator[list[FileCursor]]:
    job: list[FileCursor] = []
    size = 0
    for cursor in cursors:
        job.append(cursor)
        size += max(cursor.stat.st_size - cursor.offset, 0)
        if size >= JOB_BYTES or len(job) >= JOB_FILES:
            yield job
            job, size = [], 0
    if job:
        yield job


def worker_niceness() -> int:
    """Return the niceness for parse workers: `WORKER_NICENESS` when CPUs are idle, else 0.

    The CPUs count as idle when the 1-minute load average is below their number plus one. The
    one is for ingests run back to back, whose own processes stay in the average for a minute.
    """
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 0
    return WORKER_NICENESS if load < len(os.sched_getaffinity(0)) + 1 else 0


def _start_worker(niceness: int) -> None:
    if niceness:
        os.nice(niceness)
    # The modules' objects inherited from the caller never become garbage here. Frozen, they
    # are left out of the collector's scans, which then cover only what this worker made.
    gc.freeze()


def _read_job(job: list[FileCursor]) -> bytes:
    """Read a job's files and return their `FileRead`s and report, pickled.

    Pickled here, so the pool's result thread in the writing process receives one bytes object
    and the writer unpickles the events when it takes them. Unpickled in that thread, they
    competed with the writer for the GIL: 2.61 s against 2.45 s for a first ingest of the
    benchmark tree (medians of 8).
    """
    # One report per job: merging a report costs more than most small files take to read.
    report = IngestReport()
    reads = [_read_file(cursor, report) for cursor in job]
    return pickle.dumps((reads, report), protocol=pickle.HIGHEST_PROTOCOL)


def _read_file(cursor: FileCursor, report: IngestReport) -> FileRead:
    read: list[UsageEvent] = []
    error: OSError | None = None
    try:
        read.extend(_readers[cursor.reader](cursor, report))
    except OSError as exc:
        error = exc

    # Claude Code writes a response as several lines, so most of a log's events are earlier
    # snapshots of a request the file reads again. Only the richest read of each is sent on,
    # which the writer would keep anyway; the others are counted as it counts duplicates.
    richest = merge_by_key(read).values()
    report.events += len(read) - len(richest)
    report.duplicates += len(read) - len(richest)
    return FileRead(cursor.offset, cursor.state, [event_parts(event) for event in richest], error)


def _replay(read: FileRead) -> Iterator[UsageEvent]:
    """Yield the file's events, then raise the error that stopped its worker, as a reader would."""
    for fields, fields_set in read.events:
        yield rebuild_event(fields, fields_set)
    if read.error is not None:
        raise read.error


class ParallelReads:
    """(cursor, its events) for each file, in order, parsed by `workers` forked processes.

    The workers start, and take their first jobs, when this is made. Like a reader, a file's
    events iterator raises the OSError that stopped reading it, after the events read before
    it. What the workers report is merged into `report` as their files are yielded. `close`
    stops the workers, whether or not their results were all taken.
    """

    def __init__(
        self,
        cursors: list[FileCursor],
        readers: dict[str, Reader],
        report: IngestReport,
        workers: int,
    ) -> None:
        global _readers
        _readers = readers
        logger.debug("parsing %d files in %d worker processes", len(cursors), workers)
        self._report = report
        self._jobs = _jobs(cursors)
        self._pending: deque[tuple[list[FileCursor], Any]] = deque()
        self._pool = multiprocessing.get_context("fork").Pool(
            workers, initializer=_start_worker, initargs=(worker_niceness(),)
        )
        for _ in range(workers * JOBS_PER_WORKER):
            self._submit()
        self._results = self._take()

    def __iter__(self) -> Iterator[tuple[FileCursor, Iterator[UsageEvent]]]:
        return self._results

    def close(self) -> None:
        self._results.close()
        self._pool.terminate()
        self._pool.join()

    def _submit(self) -> None:
        job = next(self._jobs, None)
        if job is not None:
            self._pending.append((job, self._pool.apply_async(_read_job, (job,))))

    def _take(self) -> Iterator[tuple[FileCursor, Iterator[UsageEvent]]]:
        while self._pending:
            job, result = self._pending.popleft()
            reads, job_report = pickle.loads(result.get())
            self._submit()
            self._report.merge(job_report)
            for cursor, read in zip(job, reads, strict=True):
                cursor.offset, cursor.state = read.offset, read.state
                yield cursor, _replay(read)
