"""Reading commits into records, in worker processes when there are many."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

import pygit2

from headstart.indexers.commits import commit_record, enable_object_cache
from headstart.records import Record

_worker_repo: pygit2.Repository | None = None
_worker_mailmap: pygit2.Mailmap | None = None

# Below this many commits, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 400
CHUNK_SIZE = 64


def _open_in_worker(path: str) -> None:
    global _worker_repo, _worker_mailmap
    enable_object_cache()
    _worker_repo = pygit2.Repository(path)
    _worker_mailmap = pygit2.Mailmap.from_repository(_worker_repo)


def _read_chunk(args: tuple[Sequence[str], str, bool]) -> list[Record]:
    shas, repo_name, renames = args
    assert _worker_repo is not None
    return [
        commit_record(_worker_repo, _worker_repo[sha], repo_name, _worker_mailmap, renames=renames)
        for sha in shas
    ]


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
    """
    workers = workers or multiprocessing.cpu_count()
    if workers <= 1 or len(shas) < PARALLEL_THRESHOLD:
        enable_object_cache()
        mailmap = pygit2.Mailmap.from_repository(repo)
        for sha in shas:
            yield commit_record(repo, repo[sha], repo_name, mailmap, renames=renames)
        return

    chunks = [(shas[start : start + CHUNK_SIZE], repo_name, renames) for start in range(0, len(shas), CHUNK_SIZE)]
    # "spawn" keeps workers free of the parent's threads and any loaded model.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_open_in_worker, initargs=(repo.path,)
    ) as pool:
        # Keep a few chunks in flight per worker, so memory stays flat however long the history.
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.submit(_read_chunk, chunk))
            if len(pending) >= workers * 4:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
