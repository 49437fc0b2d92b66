"""The operations the CLI and the server both offer, composed from the packages below them.

`Headstart` owns one store and one history cache; the CLI makes one per command and the server
one per process. Nothing here ranks, renders or parses: it picks the repository, keeps the index
fresh, and calls `headstart.indexers` and `headstart.context`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import pygit2

from headstart.config import Settings
from headstart.context.brief import build_brief
from headstart.context.guardrails import check_change
from headstart.context.history import HistoryCache
from headstart.context.lookup import file_history, search_history
from headstart.context.models import Brief, CheckResult, HistoryPage
from headstart.context.paths import RepositoryFiles, resolve_files
from headstart.context.signals import Thresholds
from headstart.errors import IndexNotFoundError, InputError, NotARepositoryError
from headstart.indexers.freshness import check_freshness
from headstart.indexers.pipeline import index_repository
from headstart.records import Freshness
from headstart.store import Embedder, Store
from headstart.store.leases import LeaseHeldError

logger = logging.getLogger("headstart.service")

# A brief catches the index up by itself when HEAD moved by at most this many commits;
# past that, re-indexing could take minutes, so the brief says it is stale instead.
AUTO_REFRESH_LIMIT = 200


def open_store(settings: Settings) -> Store:
    """Open the store the settings name, with their object-storage options; make the default folder."""
    embedder = Embedder(settings.model, device=settings.device, batch_size=settings.embed_batch_size)
    if settings.db is None:
        Path(settings.store_uri).mkdir(parents=True, exist_ok=True)
    return Store(settings.store_uri, embedder, storage_options=settings.store_options)


class Headstart:
    """Briefs, history search and file history over one store."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store if store is not None else open_store(settings)
        self.cache = HistoryCache(self.store)
        self._refresh_lock = threading.Lock()

    def resolve_repo(self, repo: str | None) -> tuple[str, Path | None]:
        """Find the indexed repository a request means: a path, a stored name, or the only one."""
        states = self.store.repository_states()
        if repo:
            for state in states:
                if repo == state.repo:
                    return state.repo, Path(state.path)
            candidate = Path(repo).expanduser()
            if candidate.exists():
                name, _ = check_freshness(self.store, candidate)
                return name, candidate
            known = ", ".join(repr(state.repo) for state in states) or "none yet"
            raise InputError(
                f"repository {repo!r} is neither a folder nor an indexed repository (indexed: {known}); "
                "pass a repository path, or index it with `headstart index PATH`"
            )
        current_repo: str | None = None
        try:
            current_repo, _ = check_freshness(self.store, Path.cwd())
            if any(state.repo == current_repo for state in states):
                return current_repo, Path.cwd()
        except NotARepositoryError:
            pass
        if len(states) == 1:
            return states[0].repo, Path(states[0].path)
        if not states:
            raise IndexNotFoundError("nothing is indexed yet; run `headstart index PATH` on a repository first")
        known = ", ".join(repr(state.repo) for state in states)
        if current_repo is not None:
            raise IndexNotFoundError(
                f"no history is indexed for {current_repo!r}, the repository of the current folder; run "
                f"`headstart index {Path.cwd()}` first, or name one of the indexed repositories ({known}) with `--repo`"
            )
        raise InputError(
            f"several repositories are indexed ({known}); name one: `--repo` on the command line, `repo` in a request"
        )

    def forget(self, repo: str) -> tuple[str, dict[str, int]]:
        """Remove an indexed repository, named or given by its folder, from the store.

        Returns its name and the number of records of each kind removed. A folder deleted
        since it was indexed is still found by the path it was indexed from.
        """
        states = self.store.repository_states()
        # A repository imported only from a tracker has records but no indexed git state.
        names = {state.repo for state in states} | self.store.record_repositories()
        folder = Path(repo).expanduser()
        name = repo if repo in names else None
        if name is None:
            absolute = str(folder.resolve())
            name = next((state.repo for state in states if absolute == state.path), None)
        if name is None and folder.exists():
            try:
                name, _ = self.resolve_repo(repo)
            except NotARepositoryError:
                name = None
            if name is not None and name not in names:
                name = None
        if name is None:
            known = ", ".join(repr(indexed) for indexed in sorted(names)) or "none yet"
            raise InputError(
                f"repository {repo!r} not found in the store (indexed: {known}); "
                "pass one of those names, or the folder of an indexed repository"
            )
        # Imported here: the tracker package loads an HTTP client that briefs never need.
        from headstart.indexers.trackers.checkpoints import forget_legacy_checkpoints

        removed = self.store.delete_repository(name)
        forget_legacy_checkpoints(self.settings.data_dir, name)
        self.cache = HistoryCache(self.store)
        return name, removed

    def freshness(self, name: str, path: Path | None, refresh: bool, *, purpose: str = "brief") -> Freshness:
        """Check the index against HEAD, and catch it up when the gap is small.

        `purpose` names what reads the index next ("brief", "check") in the caught-up message.
        """
        if path is None or not path.exists():
            state = self.store.repository_state(name)
            return Freshness(indexed_head=state.head if state else None)
        _, freshness = check_freshness(self.store, path)
        if not freshness.stale or not refresh:
            return freshness
        if freshness.rewritten or freshness.behind <= AUTO_REFRESH_LIMIT:
            try:
                with self._refresh_lock:
                    report = index_repository(
                        self.store, path, max_files_per_commit=self.settings.max_files_per_commit
                    )
            except LeaseHeldError as exc:
                # Another job is writing this repository now. A brief from the current index is
                # more useful than an error, and the freshness message explains why it may lag.
                logger.info("not catching up %s: %s", name, exc)
                freshness.message = f"{freshness.message}; another index job is running, so it was not caught up ({exc})"
                return freshness
            logger.info("caught the index of %s up: %d new commits", name, report.commits_written)
            _, caught_up = check_freshness(self.store, path)
            caught_up.message = _caught_up_message(freshness, report.commits_written, purpose)
            caught_up.stale = False
            return caught_up
        return freshness

    def brief(
        self,
        task: str,
        *,
        repo: str | None = None,
        files: Sequence[str] = (),
        max_tokens: int | None = None,
        output: str = "markdown",
        refresh: bool = True,
        cwd: Path | None = None,
    ) -> Brief:
        """Build a brief on `task`. `files` are relative to the repository's root, to `cwd`, or absolute."""
        if not task.strip():
            raise InputError("the task is empty; describe the change, e.g. 'add retry to the HTTP client'")
        name, path = self.resolve_repo(repo)
        freshness = self.freshness(name, path, refresh)
        anchors = self._resolve_files(name, path, files, cwd=cwd)
        return build_brief(
            self.store,
            self.cache,
            name,
            task,
            files=anchors,
            max_tokens=max_tokens or self.settings.max_tokens,
            freshness=freshness,
            output=output,
            thresholds=self.thresholds,
        )

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(
            co_change_min_shared=self.settings.co_change_min_shared,
            co_change_min_confidence=self.settings.co_change_min_confidence,
            max_files_per_commit=self.settings.max_files_per_commit,
        )

    def check(
        self,
        files: Sequence[str],
        *,
        repo: str | None = None,
        task: str = "",
        limit: int = 50,
        offset: int = 0,
    ) -> CheckResult:
        """Check a planned change, given as the files it touches, against the history's guardrails."""
        if not files:
            raise InputError(
                "no files to check; name the files the change touches (`files` in a request, "
                "FILES or --diff FILE on the command line), or run `headstart check` in a changed working tree"
            )
        name, _ = self.resolve_repo(repo)
        view = self.cache.get(name)
        return check_change(self.store, view, files, self.thresholds, task=task, limit=limit, offset=offset)

    def search(
        self, query: str, *, repo: str | None = None, kind: str | None = None, limit: int = 10, offset: int = 0
    ) -> HistoryPage:
        name, _ = self.resolve_repo(repo)
        return search_history(self.store, self.cache, name, query, kind=kind, limit=limit, offset=offset)

    def file_history(
        self, path: str, *, repo: str | None = None, limit: int = 10, offset: int = 0, cwd: Path | None = None
    ) -> HistoryPage:
        """List a file's changes. `path` is relative to the repository's root, to `cwd`, or absolute."""
        name, root = self.resolve_repo(repo)
        [path] = self._resolve_files(name, root, [path], cwd=cwd, history=True)
        return file_history(self.store, self.cache, name, path, limit=limit, offset=offset)

    def resolve_files(self, files: Sequence[str], *, repo: str | None = None, cwd: Path | None = None) -> list[str]:
        """Turn files given by a user into paths relative to the repository's root.

        Each may be relative to the root, relative to `cwd` (the CLI's current folder), or absolute,
        and must be a file at the indexed head or in the working tree; InputError names one that is not.
        """
        if not files:
            return []
        name, path = self.resolve_repo(repo)
        return self._resolve_files(name, path, files, cwd=cwd)

    def _resolve_files(
        self, name: str, path: Path | None, files: Sequence[str], *, cwd: Path | None, history: bool = False
    ) -> list[str]:
        if not files:
            return []
        view = self.cache.get(name)
        tree = _working_tree(path)
        head = view.head_files

        def lookup(relative: str) -> str | None:
            if head is not None and relative in head:
                return relative
            if tree is not None and tree.has(relative):
                return relative
            if relative in view.aliases:
                return view.aliases[relative]
            if history and relative in view.by_file:
                return relative  # deleted since, but its history is still indexed
            # Without a list of head files or a working tree, nothing separates a file from a typo.
            return relative if head is None and tree is None else None

        resolved = resolve_files(
            files, RepositoryFiles(name, tree.root if tree else None, lookup, history=history), cwd
        )
        for relative in resolved:
            if head is not None and relative not in head and relative not in view.by_file:
                logger.info("%s is not at the indexed head of %s (a new file?); it has no history yet", relative, name)
        return resolved


class _WorkingTree:
    """The working tree of a repository on this machine, to accept files not committed yet."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self.root = Path(repo.workdir).resolve()

    def has(self, relative: str) -> bool:
        """Tell whether the working tree has this file, tracked or new, but not ignored by git."""
        if relative.split("/", 1)[0] in (".git", ".", "..") or not (self.root / relative).is_file():
            return False
        return relative in self.repo.index or not self.repo.path_is_ignored(relative)


def _working_tree(path: Path | None) -> _WorkingTree | None:
    """Open the working tree that contains `path`, or return None when this machine has none."""
    if path is None or not path.exists():
        return None
    try:
        found = pygit2.discover_repository(str(path.resolve()))
        repo = pygit2.Repository(found) if found else None
    except pygit2.GitError as exc:
        logger.debug("no working tree at %s: %s", path, exc)
        return None
    return _WorkingTree(repo) if repo is not None and not repo.is_bare else None


def _caught_up_message(stale: Freshness, indexed: int, purpose: str) -> str:
    """Describe how the index lagged HEAD before `purpose` caught it up, and what was indexed."""
    if stale.rewritten:
        before = f"the indexed head {(stale.indexed_head or '')[:10]} had left HEAD's history"
    else:
        before = f"HEAD was {stale.behind} commit{'' if stale.behind == 1 else 's'} ahead of the index"
    commits = f"the {indexed} new commit{' was' if indexed == 1 else 's were'} indexed"
    return f"caught up before this {purpose}: {before}, and {commits}"
