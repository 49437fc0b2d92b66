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

from headstart.config import Settings
from headstart.context.brief import build_brief
from headstart.context.guardrails import check_change
from headstart.context.history import HistoryCache
from headstart.context.lookup import file_history, search_history
from headstart.context.models import Brief, CheckResult, HistoryPage
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

    def freshness(self, name: str, path: Path | None, refresh: bool) -> Freshness:
        """Check the index against HEAD, and catch it up when the gap is small."""
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
            caught_up.message = _caught_up_message(freshness, report.commits_written)
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
    ) -> Brief:
        if not task.strip():
            raise InputError("the task is empty; describe the change, e.g. 'add retry to the HTTP client'")
        name, path = self.resolve_repo(repo)
        freshness = self.freshness(name, path, refresh)
        return build_brief(
            self.store,
            self.cache,
            name,
            task,
            files=files,
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
            raise InputError("no files to check; pass --file PATH, --diff FILE, or run inside a changed working tree")
        name, _ = self.resolve_repo(repo)
        view = self.cache.get(name)
        return check_change(self.store, view, files, self.thresholds, task=task, limit=limit, offset=offset)

    def search(
        self, query: str, *, repo: str | None = None, kind: str | None = None, limit: int = 10, offset: int = 0
    ) -> HistoryPage:
        name, _ = self.resolve_repo(repo)
        return search_history(self.store, self.cache, name, query, kind=kind, limit=limit, offset=offset)

    def file_history(self, path: str, *, repo: str | None = None, limit: int = 10, offset: int = 0) -> HistoryPage:
        name, _ = self.resolve_repo(repo)
        return file_history(self.store, self.cache, name, path, limit=limit, offset=offset)


def _caught_up_message(stale: Freshness, indexed: int) -> str:
    """Say how the index lagged HEAD before a brief caught it up, and what was indexed."""
    if stale.rewritten:
        before = f"the indexed head {(stale.indexed_head or '')[:10]} had left HEAD's history"
    else:
        before = f"HEAD was {stale.behind} commit{'' if stale.behind == 1 else 's'} ahead of the index"
    commits = f"the {indexed} new commit{' was' if indexed == 1 else 's were'} indexed"
    return f"caught up before this brief: {before}, and {commits}"
