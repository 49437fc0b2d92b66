"""Derived per-file tables: churn, fixes, reverts and authors per file, and co-change pairs.

They are updated by adding each new commit's counts, so one new commit costs work in proportion
to the files it touches, not to the history. A marker row per repository counts the commits
applied; when it disagrees with the records table (a run killed between the two writes, a
rewritten history) the tables are rebuilt from the records.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from headstart.store import filters
from headstart.store.tables import open_table

FILE_STATS_TABLE = "file_stats"
CO_CHANGES_TABLE = "co_changes"
STATS_MARKER_TABLE = "stats_applied"
MAX_EVIDENCE = 3
CACHE_ENTRIES = 20_000

FILE_STATS_SCHEMA = pa.schema(
    [
        ("repo", pa.string()),
        ("path", pa.string()),
        ("commits", pa.int64()),
        ("co_commits", pa.int64()),  # commits small enough to count for co-change
        ("fix_times", pa.list_(pa.timestamp("us", tz="UTC"))),
        ("fix_shas", pa.list_(pa.string())),
        ("revert_shas", pa.list_(pa.string())),
        ("last_at", pa.timestamp("us", tz="UTC")),
        ("authors", pa.string()),  # JSON: author -> [commits, last commit as epoch seconds]
    ]
)
CO_CHANGES_SCHEMA = pa.schema(
    [
        ("repo", pa.string()),
        ("path", pa.string()),
        ("partner", pa.string()),
        ("together", pa.int64()),
        ("shas", pa.list_(pa.string())),
    ]
)
MARKER_SCHEMA = pa.schema([pa.field("repo", pa.string(), nullable=False), ("commits", pa.int64())])
# Tables keyed by one column get it as their primary key; the others are written per repository
# only by the job holding that repository's lease.
_KEYS = {STATS_MARKER_TABLE: "repo"}


@dataclass(frozen=True)
class CommitFacts:
    """The facts of one non-merge commit that the derived tables count."""

    sha: str
    files: tuple[str, ...]
    created_at: datetime
    author: str | None
    is_fix: bool
    is_revert: bool


@dataclass
class FileStats:
    path: str
    commits: int = 0
    co_commits: int = 0
    fix_times: list[datetime] = field(default_factory=list)
    fix_shas: list[str] = field(default_factory=list)
    revert_shas: list[str] = field(default_factory=list)
    last_at: datetime | None = None
    authors: dict[str, list[float]] = field(default_factory=dict)


class StatsTables:
    """Read and update the derived tables of one LanceDB connection."""

    def __init__(self, db: Any, write: Any, query: Any) -> None:
        self._db = db
        self._write = write  # Store._write: wraps LanceDB errors in StoreError
        self._query = query  # Store._query
        self._tables: dict[str, Any] = {}
        # Reads per file are cached until either table changes, because a brief reads the same few
        # files several times and a server reads the same hot files again and again.
        self._cache: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._cache_version: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _table(self, name: str, schema: pa.Schema) -> Any:
        table = self._tables.get(name)
        if table is None:
            table = self._write(lambda: open_table(self._db, name, schema, key=_KEYS.get(name)))
            self._tables[name] = table
        return table

    def _current_version(self) -> tuple[int, int]:
        return (
            int(self._table(FILE_STATS_TABLE, FILE_STATS_SCHEMA).version),
            int(self._table(CO_CHANGES_TABLE, CO_CHANGES_SCHEMA).version),
        )

    def prefetch(self, repo: str, paths: Sequence[str], *, check_version: bool = True) -> None:
        """Read the file statistics and co-change partners of `paths` in two queries, into the cache.

        With `check_version`, first drop the cache if another process changed the tables.
        """
        version = self._current_version() if check_version else self._cache_version
        with self._lock:
            if version != self._cache_version:
                self._cache.clear()
                self._cache_version = version
            missing = sorted({path for path in paths if ("stats", repo, path) not in self._cache})
        if not missing:
            return

        stats = {item.path: item for item in self._read_file_stats(repo, missing)}
        partners: dict[str, list[tuple[str, int, list[str]]]] = {path: [] for path in missing}
        for row in self._co_change_rows(repo, missing):
            partners[row["path"]].append((row["partner"], row["together"], list(row["shas"])))
        with self._lock:
            for path in missing:
                self._cache[("stats", repo, path)] = stats.get(path)
                self._cache[("pairs", repo, path)] = partners[path]
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)

    def applied(self, repo: str) -> int:
        rows = self._query(self._table(STATS_MARKER_TABLE, MARKER_SCHEMA), filters.equals("repo", repo), None, 1)
        return int(rows[0]["commits"]) if rows else 0

    def apply(self, repo: str, commits: Sequence[CommitFacts], max_files: int, *, total_after: int) -> None:
        """Add the counts of `commits` to the tables and record `total_after` commits as applied."""
        self._forget()
        if commits:
            self._apply_file_stats(repo, commits, max_files)
            self._apply_co_changes(repo, commits, max_files)
        self._set_marker(repo, total_after)

    def rebuild(self, repo: str, commits: Sequence[CommitFacts], max_files: int) -> None:
        """Replace a repository's derived rows with counts from `commits`."""
        self._forget()
        for name, schema in ((FILE_STATS_TABLE, FILE_STATS_SCHEMA), (CO_CHANGES_TABLE, CO_CHANGES_SCHEMA)):
            table = self._table(name, schema)
            self._write(lambda table=table: table.delete(filters.equals("repo", repo)))
        self.apply(repo, commits, max_files, total_after=len(commits))

    def delete(self, repo: str) -> None:
        """Remove a repository's rows from the three tables, its marker included."""
        self._forget()
        existing = set(self._db.list_tables().tables)
        for name, schema in (
            (FILE_STATS_TABLE, FILE_STATS_SCHEMA),
            (CO_CHANGES_TABLE, CO_CHANGES_SCHEMA),
            (STATS_MARKER_TABLE, MARKER_SCHEMA),
        ):
            if name in self._tables or name in existing:
                table = self._table(name, schema)
                self._write(lambda table=table: table.delete(filters.equals("repo", repo)))

    def refresh_indexes(self) -> None:
        """Index the `path` column of both tables, so one file's rows are found without a scan."""
        for name, schema in ((FILE_STATS_TABLE, FILE_STATS_SCHEMA), (CO_CHANGES_TABLE, CO_CHANGES_SCHEMA)):
            table = self._table(name, schema)
            if table.count_rows() == 0:
                continue
            indexed = {column for index in table.list_indices() for column in index.columns}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                if "path" in indexed:
                    self._write(lambda table=table: table.optimize())
                else:
                    self._write(lambda table=table: table.create_scalar_index("path", index_type="BTREE"))

    def _forget(self) -> None:
        with self._lock:
            self._cache.clear()
            self._cache_version = None

    def _set_marker(self, repo: str, commits: int) -> None:
        table = self._table(STATS_MARKER_TABLE, MARKER_SCHEMA)
        data = pa.Table.from_pylist([{"repo": repo, "commits": commits}], schema=MARKER_SCHEMA)
        self._write(lambda: table.merge_insert("repo").when_matched_update_all().when_not_matched_insert_all().execute(data))

    def _apply_file_stats(self, repo: str, commits: Sequence[CommitFacts], max_files: int) -> None:
        touched = sorted({path for commit in commits for path in commit.files})
        current = {stats.path: stats for stats in self._read_file_stats(repo, touched)}
        for commit in sorted(commits, key=lambda commit: commit.created_at):
            for path in commit.files:
                stats = current.setdefault(path, FileStats(path=path))
                stats.commits += 1
                stats.co_commits += len(commit.files) <= max_files
                stats.last_at = max(stats.last_at or commit.created_at, commit.created_at)
                if commit.is_fix:
                    stats.fix_times.append(commit.created_at)
                    stats.fix_shas.append(commit.sha)
                if commit.is_revert:
                    stats.revert_shas.append(commit.sha)
                if commit.author:
                    count, last = stats.authors.get(commit.author, [0, 0.0])
                    stats.authors[commit.author] = [count + 1, max(last, commit.created_at.timestamp())]

        rows = [
            {
                "repo": repo,
                "path": stats.path,
                "commits": stats.commits,
                "co_commits": stats.co_commits,
                "fix_times": [moment.astimezone(timezone.utc) for moment in stats.fix_times],
                "fix_shas": stats.fix_shas,
                "revert_shas": stats.revert_shas,
                "last_at": stats.last_at.astimezone(timezone.utc) if stats.last_at else None,
                "authors": json.dumps(stats.authors),
            }
            for stats in current.values()
        ]
        self._upsert(FILE_STATS_TABLE, FILE_STATS_SCHEMA, ["repo", "path"], rows)

    def _apply_co_changes(self, repo: str, commits: Sequence[CommitFacts], max_files: int) -> None:
        together: Counter[tuple[str, str]] = Counter()
        shas: dict[tuple[str, str], list[str]] = defaultdict(list)
        for commit in sorted(commits, key=lambda commit: commit.created_at, reverse=True):
            if len(commit.files) > max_files:
                continue
            for path in commit.files:
                for partner in commit.files:
                    if partner != path:
                        together[(path, partner)] += 1
                        if len(shas[(path, partner)]) < MAX_EVIDENCE:
                            shas[(path, partner)].append(commit.sha)
        if not together:
            return

        paths = sorted({path for path, _ in together})
        existing = {(row["path"], row["partner"]): row for row in self._co_change_rows(repo, paths)}
        rows = []
        for pair, count in together.items():
            old = existing.get(pair)
            rows.append(
                {
                    "repo": repo,
                    "path": pair[0],
                    "partner": pair[1],
                    "together": count + (old["together"] if old else 0),
                    "shas": (shas[pair] + list(old["shas"] if old else []))[:MAX_EVIDENCE],
                }
            )
        self._upsert(CO_CHANGES_TABLE, CO_CHANGES_SCHEMA, ["repo", "path", "partner"], rows)

    def _upsert(self, name: str, schema: pa.Schema, keys: list[str], rows: list[dict]) -> None:
        table = self._table(name, schema)
        for start in range(0, len(rows), 20_000):
            data = pa.Table.from_pylist(rows[start : start + 20_000], schema=schema)
            self._write(
                lambda data=data: table.merge_insert(keys).when_matched_update_all().when_not_matched_insert_all().execute(data)
            )

    def _co_change_rows(self, repo: str, paths: Sequence[str]) -> list[dict]:
        table = self._table(CO_CHANGES_TABLE, CO_CHANGES_SCHEMA)
        rows: list[dict] = []
        for start in range(0, len(paths), 500):
            where = filters.all_of(filters.equals("repo", repo), filters.is_in("path", paths[start : start + 500]))
            rows += self._query(table, where, None)
        return rows

    def file_stats(self, repo: str, paths: Iterable[str]) -> list[FileStats]:
        """Statistics of the given files that have any, read through the cache."""
        paths = list(paths)
        self.prefetch(repo, paths, check_version=False)
        with self._lock:
            cached = [self._cache.get(("stats", repo, path)) for path in paths]
        return [item for item in cached if item is not None]

    def _read_file_stats(self, repo: str, paths: list[str]) -> list[FileStats]:
        table = self._table(FILE_STATS_TABLE, FILE_STATS_SCHEMA)
        found: list[FileStats] = []
        for start in range(0, len(paths), 500):
            where = filters.all_of(filters.equals("repo", repo), filters.is_in("path", paths[start : start + 500]))
            for row in self._query(table, where, None):
                found.append(
                    FileStats(
                        path=row["path"],
                        commits=row["commits"],
                        co_commits=row["co_commits"],
                        fix_times=list(row["fix_times"] or []),
                        fix_shas=list(row["fix_shas"] or []),
                        revert_shas=list(row["revert_shas"] or []),
                        last_at=row["last_at"],
                        authors=json.loads(row["authors"] or "{}"),
                    )
                )
        return found

    def co_changes(self, repo: str, path: str) -> list[tuple[str, int, list[str]]]:
        """Partners of `path` with the number of commits they shared and up to three shas."""
        self.prefetch(repo, [path], check_version=False)
        with self._lock:
            return list(self._cache.get(("pairs", repo, path)) or [])
