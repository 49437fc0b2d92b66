"""An index run: find the commits not yet stored, read them, embed them, write them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pygit2
from pygit2.enums import SortMode

from headstart.indexers.commits import to_posix, unknown_line_counts
from headstart.indexers.identifiers import file_identifiers
from headstart.indexers.pull_requests import pull_request_record, web_url
from headstart.indexers.repository import OpenRepository, open_repository
from headstart.indexers.standards import standard_records
from headstart.indexers.walk import read_commits
from headstart.memory import release_free_memory
from headstart.metrics import RECORDS_INDEXED
from headstart.records import Link, LinkKind, Record, RecordKind, is_fix_commit, is_revert_commit
from headstart.store import RepositoryState, Store
from headstart.store.leases import LEASE_SECONDS, Lease, index_lease
from headstart.store.stats import CommitFacts

logger = logging.getLogger("headstart.indexers")

# Estimates for --dry-run on a CPU; stated as such in its output.
# NOTE: the embedding rate is a guess, not measured here: all-MiniLM-L6-v2 managed about 13
# texts/s on a 2-CPU machine shared with other jobs, so the estimate can be far too low.
ESTIMATED_EMBED_PER_SECOND = 150.0
BATCH_SIZE = 512


@dataclass
class IndexPlan:
    """The plan of an index run, computed before any diff is read or text embedded."""

    repo: str
    path: str
    head: str | None
    reachable: list[str] = field(default_factory=list)
    new_commits: list[str] = field(default_factory=list)
    stale_commits: list[str] = field(default_factory=list)
    pull_requests: int = 0
    estimated_seconds: float = 0.0
    shallow: bool = False

    @property
    def rewritten(self) -> bool:
        return bool(self.stale_commits)


@dataclass
class IndexReport:
    plan: IndexPlan
    commits_written: int = 0
    pull_requests_written: int = 0
    records_deleted: int = 0
    standards_written: int = 0
    # Changed files whose line counts are unknown because the clone lacks their blobs.
    unknown_line_counts: int = 0
    seconds: float = 0.0
    dry_run: bool = False


ProgressCallback = Callable[[int, int], None]


def plan_index(store: Store, opened: OpenRepository, *, estimate: bool = True) -> IndexPlan:
    """Compare the history reachable from the head with what the store holds."""
    plan = IndexPlan(
        repo=opened.name,
        path=str(opened.path),
        head=str(opened.head.id) if opened.head is not None else None,
        shallow=opened.repo.is_shallow,
    )
    if opened.head is None:
        return plan

    indexed = store.keys(opened.name, RecordKind.COMMIT.value)
    reachable = plan.reachable
    for commit in opened.repo.walk(opened.head.id, SortMode.TOPOLOGICAL | SortMode.REVERSE):
        sha = str(commit.id)
        reachable.append(sha)
        if sha not in indexed:
            plan.new_commits.append(sha)
            if _names_pull_request(commit.raw_message):
                plan.pull_requests += 1
    plan.stale_commits = sorted(set(indexed) - set(reachable))

    if estimate and plan.new_commits:
        plan.estimated_seconds = _estimate_seconds(opened, plan)
    return plan


def _names_pull_request(message: bytes) -> bool:
    # A quick upper bound for --dry-run; the raw bytes need no decoding.
    return b"pull request #" in message or b"(#" in message or b"merge request" in message


def _estimate_seconds(opened: OpenRepository, plan: IndexPlan) -> float:
    """Time diffs of a sample of new commits and add an estimated embedding rate."""
    sample = plan.new_commits[:: max(1, len(plan.new_commits) // 20)][:20]
    started = time.perf_counter()
    list(read_commits(opened.repo, sample, opened.name, workers=1))
    per_commit = (time.perf_counter() - started) / max(len(sample), 1)
    texts = len(plan.new_commits) + plan.pull_requests
    return per_commit * len(plan.new_commits) + texts / ESTIMATED_EMBED_PER_SECOND


def index_repository(
    store: Store,
    path: str | Path | None = None,
    *,
    until: str | None = None,
    renames: bool = False,
    dry_run: bool = False,
    workers: int = 0,
    batch_size: int = BATCH_SIZE,
    max_files_per_commit: int = 30,
    on_progress: ProgressCallback | None = None,
    lease_seconds: float = LEASE_SECONDS,
    lease_wait: float = 0.0,
) -> IndexReport:
    """Index the history of the repository at `path` up to `until` (default: HEAD).

    Only commits the store lacks are read. Commits the store holds that are no longer
    reachable (a force-push, a rebase, an earlier `until`) are removed with the pull requests
    they landed. Each batch is written whole, so a killed run resumes where it stopped.

    One job at a time writes a repository: the run holds the repository's lease in the store,
    renewing it every batch, and raises LeaseHeldError when another live job holds it after
    `lease_wait` seconds.
    """
    started = time.perf_counter()
    opened = open_repository(path, until)
    if dry_run or opened.head is None:
        return IndexReport(plan=plan_index(store, opened, estimate=dry_run), dry_run=dry_run)

    # Planned under the lease, so a job that waited for another one reads what that one wrote.
    with store.leases.acquire(index_lease(opened.name), lease_seconds, wait=lease_wait) as lease:
        report = _write_index(
            store,
            opened,
            lease,
            until=until,
            renames=renames,
            workers=workers,
            batch_size=batch_size,
            max_files_per_commit=max_files_per_commit,
            on_progress=on_progress,
        )
    report.seconds = time.perf_counter() - started
    logger.info(
        "indexed %s: %d commits, %d pull requests in %.1fs",
        opened.name,
        report.commits_written,
        report.pull_requests_written,
        report.seconds,
    )
    return report


def _write_index(
    store: Store,
    opened: OpenRepository,
    lease: Lease,
    *,
    until: str | None,
    renames: bool,
    workers: int,
    batch_size: int,
    max_files_per_commit: int,
    on_progress: ProgressCallback | None,
) -> IndexReport:
    """Bring the store up to the repository's head; the caller holds the repository's lease."""
    plan = plan_index(store, opened, estimate=False)
    report = IndexReport(plan=plan)
    if plan.stale_commits:
        report.records_deleted = _remove_stale(store, opened.name, plan.stale_commits)

    total = len(plan.new_commits)
    done = 0
    indexed_before = len(plan.reachable) - total
    # Derived per-file tables are updated per batch only while they match the records.
    # A store from before them, a killed run or rewritten history gets them rebuilt after the loop.
    stats_in_step = not plan.stale_commits and store.stats.applied(opened.name) == indexed_before
    if on_progress:
        on_progress(0, total)
    # Imported only when there is something to write: detect-secrets takes a tenth of a second to
    # load, which a no-op run should not pay.
    from headstart.indexers.redaction import redact_record

    commits = read_commits(opened.repo, plan.new_commits, opened.name, renames=renames, workers=workers)
    # Closing the reader on any error stops its worker processes now, not at garbage collection.
    with closing(commits):
        for batch in _batches(commits, batch_size):
            records = _with_pull_requests(opened.repo, batch)
            store.embed_and_upsert([redact_record(record) for record in records])
            release_free_memory()
            RECORDS_INDEXED.inc(len(records))
            done += len(batch)
            if stats_in_step:
                store.stats.apply(
                    opened.name, commit_facts(batch), max_files_per_commit, total_after=indexed_before + done
                )
            report.commits_written += len(batch)
            report.unknown_line_counts += sum(
                unknown_line_counts(change) for record in batch for change in record.changes
            )
            report.pull_requests_written += sum(record.kind == RecordKind.PULL_REQUEST for record in records)
            lease.renew()
            if on_progress:
                on_progress(done, total)

    if not stats_in_step:
        rebuild_stats(store, opened.name, max_files_per_commit)
        lease.renew()
    state = store.repository_state(opened.name)
    changed = report.commits_written or report.records_deleted
    head_moved = state is None or state.head != plan.head or state.revision != (until or "HEAD")
    head_files = tracked_files(opened.head) if changed or head_moved else []
    if changed or head_moved:
        report.standards_written = _sync_standards(store, opened, head_files)
    # Also after a run that wrote nothing: an earlier run may have stopped before this step.
    store.refresh_indexes()
    if changed or not stats_in_step:
        store.stats.refresh_indexes()
    # Saved before the repository state, which marks the run complete. Also saved when a store
    # from before this table has nothing new to index.
    if changed or head_moved or not store.identifiers.saved(opened.name):
        paths = head_files or tracked_files(opened.head)
        store.identifiers.save(opened.name, file_identifiers(opened.head, paths))
    if changed or head_moved:
        store.save_head_files(opened.name, head_files)
        store.save_repository_state(
            RepositoryState(
                repo=opened.name,
                path=str(opened.path),
                head=plan.head or "",
                revision=until or "HEAD",
                commits=len(store.keys(opened.name, RecordKind.COMMIT.value)),
                pull_requests=len(store.keys(opened.name, RecordKind.PULL_REQUEST.value)),
                indexed_at=datetime.now(timezone.utc),
            )
        )
    return report


def tracked_files(commit: pygit2.Commit) -> list[str]:
    """List every file in a commit's tree, as POSIX paths.

    Names that are not UTF-8 get U+FFFD for the bad bytes and backslashes become slashes,
    as in commit records.
    """
    paths: list[str] = []
    stack: list[tuple[str, pygit2.Tree]] = [("", commit.tree)]
    while stack:
        prefix, tree = stack.pop()
        for entry in tree:
            name = entry.raw_name.decode("utf-8", errors="replace")
            if entry.type == pygit2.enums.ObjectType.TREE:
                stack.append((f"{prefix}{name}/", entry))
            elif entry.type == pygit2.enums.ObjectType.BLOB:
                paths.append(to_posix(f"{prefix}{name}"))
    return paths


def commit_facts(commits: Iterable[Record]) -> list[CommitFacts]:
    """Reduce non-merge commit records to what the derived per-file tables count."""
    facts = []
    for commit in commits:
        if commit.kind != RecordKind.COMMIT or len(commit.parents) > 1:
            continue
        kinds = [link.kind.value for link in commit.links]
        facts.append(
            CommitFacts(
                sha=commit.key,
                files=tuple(commit.files),
                created_at=commit.created_at,
                author=commit.authors[0] if commit.authors else None,
                # Only the body distinguishes "Fixes #12" from "Closes #12", as in the brief's fixes section.
                # NOTE: stores indexed before the body was read keep their fix counts until `forget` and a new index.
                is_fix=is_fix_commit(commit.title, kinds, commit.body),
                is_revert=is_revert_commit(kinds),
            )
        )
    return facts


def rebuild_stats(store: Store, repo: str, max_files_per_commit: int) -> None:
    """Recount the derived per-file tables from every commit record of a repository."""
    table = store.columns(
        repo, ["key", "title", "body", "files", "authors", "created_at", "links", "parents"], kinds=[RecordKind.COMMIT.value]
    )
    facts = []
    for row in table.to_pylist():
        if len(row["parents"] or []) > 1:
            continue
        kinds = [link["kind"] for link in row["links"] or []]
        facts.append(
            CommitFacts(
                sha=row["key"],
                files=tuple(row["files"] or []),
                created_at=row["created_at"],
                author=(row["authors"] or [None])[0],
                is_fix=is_fix_commit(row["title"] or "", kinds, row["body"] or ""),
                is_revert=is_revert_commit(kinds),
            )
        )
    store.stats.rebuild(repo, facts, max_files_per_commit)


def _sync_standards(store: Store, opened: OpenRepository, head_files: list[str]) -> int:
    """Store the head's rules files and CODEOWNERS, and drop those that no longer exist."""
    from headstart.indexers.redaction import redact_record

    records = [redact_record(record) for record in standard_records(opened.repo, opened.head, opened.name, head_files)]
    current = {record.id for record in records}
    gone = [record_id for record_id in store.keys(opened.name, RecordKind.STANDARD.value).values() if record_id not in current]
    store.delete(opened.name, gone)
    store.embed_and_upsert(records)
    return len(records)


def _batches(records: Iterable[Record], size: int) -> Iterable[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _with_pull_requests(repo: pygit2.Repository, commits: Sequence[Record]) -> list[Record]:
    """Complete a batch of commit records: full shas in links, web urls, derived pull requests.

    When two commits of the batch land the same pull request (a cherry-pick, a re-merge), the
    later one in history wins, as it does across batches.
    """
    records: dict[str, Record] = {}
    for commit in commits:
        commit.links = _unique([_expand_commit_link(repo, link) for link in commit.links])
        commit.url = web_url(commit.repo, "commit", commit.key)
        records[commit.id] = commit
        pull_request = pull_request_record(commit)
        if pull_request is not None:
            records.pop(pull_request.id, None)
            records[pull_request.id] = pull_request
    return list(records.values())


def _unique(links: Iterable[Link]) -> list[Link]:
    seen: set[tuple[str, str]] = set()
    unique_links: list[Link] = []
    for link in links:
        if (link.kind, link.target) not in seen:
            seen.add((link.kind, link.target))
            unique_links.append(link)
    return unique_links


def _expand_commit_link(repo: pygit2.Repository, link: Link) -> Link:
    """Turn an abbreviated sha in a link into the full one, when the repository contains it."""
    kind, _, sha = link.target.partition(":")
    if kind != "commit" or len(sha) == 40:
        return link
    try:
        full = str(repo.revparse_single(sha).peel(pygit2.Commit).id)
    except (KeyError, ValueError, pygit2.GitError):
        return link
    return Link(kind=link.kind, target=f"commit:{full}")


def _remove_stale(store: Store, repo: str, stale: Sequence[str]) -> int:
    """Delete commits that left the history, and the pull requests merged as them."""
    logger.warning(
        "%s: %d indexed commits are no longer reachable (history rewritten or an earlier revision); "
        "removing them from the store",
        repo,
        len(stale),
    )
    stale_set = set(stale)
    commit_ids = store.keys(repo, RecordKind.COMMIT.value)
    doomed = [commit_ids[sha] for sha in stale if sha in commit_ids]

    pull_requests = store.columns(repo, ["id", "links"], kinds=[RecordKind.PULL_REQUEST.value])
    for row in pull_requests.to_pylist():
        for link in row["links"] or []:
            if link["kind"] == LinkKind.MERGED_AS.value and link["target"].partition(":")[2] in stale_set:
                doomed.append(row["id"])
                break
    store.delete(repo, doomed)
    return len(doomed)
