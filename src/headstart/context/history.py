"""An in-memory view of one repository's history: who changed which file, and with what."""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from headstart.context.identifiers import IdentifierIndex
from headstart.context.kinds import files_of_kind
from headstart.context.lexical import FileMessageIndex
from headstart.context.renames import current_names, renames_in
from headstart.errors import IndexNotFoundError
from headstart.records import LinkKind, RecordKind
from headstart.store import Store

# A commit touching more files than this is a sweep (formatting, licence headers, vendoring):
# it says little about which files belong together.
MAX_FILES_PER_CHANGE = 30

_COLUMNS = [
    "id", "kind", "key", "title", "body", "files", "authors", "created_at", "links", "parents", "url", "number", "labels",
    "changes",
]


@dataclass
class Change:
    """One commit or pull request, without its body or vector."""

    id: str
    kind: str
    key: str
    title: str
    body: str
    files: list[str]
    authors: list[str]
    created_at: datetime
    url: str | None
    number: int | None
    parents: list[str]
    links: list[tuple[str, str]]
    labels: list[str] = field(default_factory=list)
    changes_json: str = "[]"

    def test_functions(self) -> dict[str, list[str]]:
        """Test functions the change's diff added or edited, by test file."""
        return {
            change["path"]: change["functions"]
            for change in json.loads(self.changes_json or "[]")
            if change.get("functions")
        }

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclass
class HistoryView:
    """Changes of one repository indexed by file, built once per store version."""

    repo: str
    changes: dict[str, Change]
    by_file: dict[str, list[str]]
    head_files: set[str] | None
    by_target: dict[str, str]
    incoming: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    standards: list[Change] = field(default_factory=list)
    # A renamed path that no longer exists → its name at the indexed head.
    aliases: dict[str, str] = field(default_factory=dict)
    first_time: datetime | None = None
    last_time: datetime | None = None
    # Loads path → identifiers at the indexed head; None when they were never saved.
    identifier_source: Callable[[], dict[str, list[str]] | None] | None = field(default=None, repr=False)
    _message_index: FileMessageIndex | None = field(default=None, repr=False)
    # Guards building the message and identifier indexes once, for concurrent briefs.
    _index_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _identifier_index: IdentifierIndex | None = field(default=None, repr=False)
    _kind_files: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def exists(self, path: str) -> bool:
        return self.head_files is None or path in self.head_files

    def current_files(self, paths: list[str]) -> list[str]:
        """Return `paths` under their names at the indexed head, without duplicates."""
        return _current_files(paths, self.aliases) if self.aliases else list(paths)

    def commits_touching(self, path: str) -> list[Change]:
        """Non-merge commits that changed `path`, newest first."""
        return [self.changes[change_id] for change_id in reversed(self.by_file.get(path, []))]

    def co_changes(self, path: str) -> tuple[int, Counter[str]]:
        """Count the commits changing `path` and, per other file, how many of them changed it too."""
        commits = self.commits_touching(path)
        partners: Counter[str] = Counter()
        for commit in commits:
            if len(commit.files) > MAX_FILES_PER_CHANGE:
                continue
            partners.update(other for other in commit.files if other != path)
        return len(commits), partners

    def message_index(self) -> FileMessageIndex:
        """BM25 over each existing file's path and past commit messages, built on first use."""
        with self._index_lock:
            if self._message_index is None:
                self._message_index = FileMessageIndex.from_messages(
                    (path, self._messages_touching(path)) for path in self.by_file if self.exists(path)
                )
            return self._message_index

    def identifier_index(self) -> IdentifierIndex:
        """Return which existing files contain each identifier, loaded on first use."""
        with self._index_lock:
            if self._identifier_index is None:
                files = (self.identifier_source() if self.identifier_source else None) or {}
                self._identifier_index = IdentifierIndex(
                    {path: names for path, names in files.items() if self.exists(path)}
                )
            return self._identifier_index

    def files_of_kind(self, kind: str) -> list[str]:
        """Return the files at the indexed head of a kind from `headstart.context.kinds`, found once."""
        with self._index_lock:
            if kind not in self._kind_files:
                self._kind_files[kind] = files_of_kind(kind, self.head_files or ())
            return self._kind_files[kind]

    def _messages_touching(self, path: str) -> list[str]:
        # Sweeping commits carry no signal about any one of their files, as in co-change.
        return [
            f"{change.title}\n{change.body}"
            for change in self.commits_touching(path)
            if len(change.files) <= MAX_FILES_PER_CHANGE
        ]

    def change_for_target(self, target: str) -> Change | None:
        change_id = self.by_target.get(target)
        return self.changes.get(change_id) if change_id else None


def build_history(store: Store, repo: str, *, follow_renames: bool = True) -> HistoryView:
    """Load a repository's changes from the store into a HistoryView.

    With `follow_renames` off, files keep the paths each commit recorded, as a plain
    `git log --name-only` lists them (the evaluation's baselines use that).
    """
    table = store.columns(
        repo, _COLUMNS, kinds=[RecordKind.COMMIT.value, RecordKind.PULL_REQUEST.value, RecordKind.STANDARD.value]
    )
    if table.num_rows == 0:
        raise IndexNotFoundError(
            f"no history is indexed for {repo!r}; run `headstart index {repo}` first"
            if repo.startswith("/")
            else f"no history is indexed for {repo!r}; run `headstart index PATH` on a clone of it first"
        )

    changes: dict[str, Change] = {}
    by_file: dict[str, list[str]] = defaultdict(list)
    by_target: dict[str, str] = {}
    incoming: dict[str, list[tuple[str, str]]] = defaultdict(list)
    standards: list[Change] = []

    rows = sorted(table.to_pylist(), key=lambda row: row["created_at"])
    for row in rows:
        change = Change(
            id=row["id"],
            kind=row["kind"],
            key=row["key"],
            title=row["title"] or "",
            body=row["body"] or "",
            files=list(row["files"] or []),
            authors=list(row["authors"] or []),
            created_at=row["created_at"],
            url=row["url"],
            number=row["number"],
            parents=list(row["parents"] or []),
            links=[(link["kind"], link["target"]) for link in row["links"] or []],
            labels=list(row["labels"] or []),
            changes_json=row["changes"] or "[]",
        )
        if change.kind == RecordKind.STANDARD.value:
            standards.append(change)
            continue
        changes[change.id] = change
        by_target[f"{change.kind}:{change.key}"] = change.id
        for kind, target in change.links:
            incoming[target].append((kind, change.id))

    # Files are known by their names at the head, so a file's history before a move counts.
    head_files = store.head_files(repo)
    aliases: dict[str, str] = {}
    if head_files is not None and follow_renames:
        moves = (pair for change in changes.values() if not change.is_merge for pair in renames_in(change.changes_json))
        aliases = current_names(moves, head_files.__contains__)
    for change in changes.values():
        if aliases:
            change.files = _current_files(change.files, aliases)
        if change.kind == RecordKind.COMMIT.value and not change.is_merge:
            for path in change.files:
                by_file[path].append(change.id)

    return HistoryView(
        repo=repo,
        changes=changes,
        by_file=dict(by_file),
        head_files=head_files,
        aliases=aliases,
        identifier_source=lambda: store.identifiers.load(repo),
        by_target=by_target,
        incoming=dict(incoming),
        standards=standards,
        first_time=min((change.created_at for change in changes.values()), default=None),
        last_time=max((change.created_at for change in changes.values()), default=None),
    )


def _current_files(paths: list[str], aliases: dict[str, str]) -> list[str]:
    # A rename commit names both paths, which become one.
    return list(dict.fromkeys(aliases.get(path, path) for path in paths))


def reverts_and_fixes(view: HistoryView, change: Change) -> list[tuple[LinkKind, str]]:
    """Links from a change that make it a fix or a revert."""
    kinds = {LinkKind.FIXES.value, LinkKind.FIXES_COMMIT.value, LinkKind.REVERTS.value}
    return [(LinkKind(kind), target) for kind, target in change.links if kind in kinds]


class HistoryCache:
    """Keep one HistoryView per repository until the store changes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._views: dict[str, tuple[int, HistoryView]] = {}
        self._lock = threading.Lock()

    def get(self, repo: str) -> HistoryView:
        version = self.store.version()
        with self._lock:
            cached = self._views.get(repo)
            if cached and cached[0] == version:
                return cached[1]
        view = build_history(self.store, repo)
        with self._lock:
            self._views[repo] = (version, view)
        return view
