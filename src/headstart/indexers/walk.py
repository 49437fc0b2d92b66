"""Reading commits into records, in worker processes when there are many."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

import pygit2

from headstart.errors import InputError
from headstart.indexers.commits import commit_record, tune_for_history
from headstart.indexers.repository import open_for_diffs, shallow_boundary
from headstart.records import Record

_worker_repo: pygit2.Repository | None = None
_worker_mailmap: pygit2.Mailmap | None = None
_worker_boundary: frozenset[str] = frozenset()

# Below this many commits, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 400
MIN_CHUNK_SIZE = 32
MAX_CHUNK_SIZE = 256
PARENT_CHECK_SECONDS = 1.0


def _open_in_worker(path: str, parent: int) -> None:
    global _worker_repo, _worker_mailmap, _worker_boundary
    threading.Thread(target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True).start()
    tune_for_history()
    # `.mailmap` is read from the working tree when there is one, as `git log` does.
    full = pygit2.Repository(path)
    _worker_mailmap = pygit2.Mailmap.from_repository(full)
    _worker_boundary = shallow_boundary(full)
    _worker_repo = open_for_diffs(path)


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone.

    A parent killed by a signal runs no clean-up, and its workers would otherwise live on as
    orphans, each holding its repository handle and object cache.
    """
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _read_chunk(args: tuple[Sequence[str], str, bool]) -> list[Record]:
    shas, repo_name, renames = args
    assert _worker_repo is not None
    records: list[Record] = []
    for sha in shas:
        try:
            records.append(_read_one(_worker_repo, sha, repo_name, _worker_mailmap, renames, _worker_boundary))
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - re-raised as a type that pickles
            # Other exception classes, pygit2's among them, may not pickle back to the parent.
            raise RuntimeError(f"reading commit {sha} failed: {type(exc).__name__}: {exc}") from None
    return records


def _read_one(
    repo: pygit2.Repository,
    sha: str,
    repo_name: str,
    mailmap: pygit2.Mailmap | None,
    renames: bool,
    boundary: frozenset[str],
) -> Record:
    try:
        return commit_record(repo, repo[sha], repo_name, mailmap, renames=renames, shallow_boundary=boundary)
    except (pygit2.GitError, KeyError) as exc:
        # Typically a partial clone (`--filter=blob:none`) that lacks the blobs a diff needs.
        raise InputError(
            f"reading commit {sha} of {repo_name!r} failed: {exc!r}; the repository lacks objects "
            "this commit needs (a partial clone made with --filter?), so index a full clone instead"
        ) from exc


def read_commits(
    repo: pygit2.Repository,
    shas: Sequence[str],
    repo_name: str,
    *,
    renames: bool = False,
    workers: int = 0,
) -> Iterator[Record]:
    """Yield the record of each commit in `shas`, in the same order.

    Diffing dominates the cost, so above PARALLEL_THRESHOLD commits the work is spread
    over `workers` processes (default: one per CPU), each with its own repository handle.
    Closing the iterator early cancels the work not yet started.
    """
    workers = workers or multiprocessing.cpu_count()
    if workers <= 1 or len(shas) < PARALLEL_THRESHOLD:
        yield from _read_serially(repo, shas, repo_name, renames)
        return

    # Chunks big enough to amortise pickling, small enough to keep every worker busy to the end.
    size = max(MIN_CHUNK_SIZE, min(MAX_CHUNK_SIZE, len(shas) // (workers * 8)))
    chunks = [(shas[start : start + size], repo_name, renames) for start in range(0, len(shas), size)]
    # "spawn" keeps workers free of the parent's threads and any loaded model.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_open_in_worker, initargs=(repo.path, os.getpid())
    )
    # Keep a few chunks in flight per worker, so memory stays flat however long the history.
    pending: deque[Future[list[Record]]] = deque()
    try:
        for chunk in chunks:
            pending.append(pool.submit(_read_chunk, chunk))
            if len(pending) >= workers * 3:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _read_serially(
    repo: pygit2.Repository, shas: Sequence[str], repo_name: str, renames: bool
) -> Iterator[Record]:
    tune_for_history()
    mailmap = pygit2.Mailmap.from_repository(repo)
    boundary = shallow_boundary(repo)
    diff_repo = open_for_diffs(repo.path)
    for sha in shas:
        yield _read_one(diff_repo, sha, repo_name, mailmap, renames, boundary)
