"""Telling whether the store still describes a repository's current head."""

from __future__ import annotations

import itertools
from pathlib import Path

import pygit2

from headstart.indexers.repository import open_repository
from headstart.records import Freshness
from headstart.store import Store
from headstart.text import counted

# Commits counted at most in a repository never indexed; enough to tell small from large.
UNINDEXED_COUNT_LIMIT = 10_000


def check_freshness(store: Store, path: str | Path) -> tuple[str, Freshness]:
    """Compare the indexed head of the repository at `path` with its current HEAD.

    Returns the repository's name and a Freshness whose message says what changed and how
    to catch up. A repository never indexed is reported as stale with that message.
    """
    opened = open_repository(path)
    current = str(opened.head.id) if opened.head is not None else None
    state = store.repository_state(opened.name)
    if state is None:
        # Counted so that a caller catching small gaps up does not index a long history unasked.
        behind = sum(1 for _ in itertools.islice(opened.repo.walk(current), UNINDEXED_COUNT_LIMIT)) if current else 0
        return opened.name, Freshness(
            current_head=current,
            stale=True,
            behind=behind,
            message=f"{opened.path} has not been indexed; run `headstart index {opened.path}`",
        )

    freshness = Freshness(indexed_head=state.head, current_head=current)
    if current is None or current == state.head or state.revision != "HEAD":
        return opened.name, freshness

    freshness.stale = True
    repo = opened.repo
    if _is_descendant(repo, current, state.head):
        walker = repo.walk(current)
        walker.hide(state.head)
        freshness.behind = sum(1 for _ in walker)
        freshness.message = (
            f"HEAD moved to {current[:10]}, {counted(freshness.behind, 'commit')} after the indexed "
            f"{state.head[:10]}; run `headstart index {opened.path}` to catch up"
        )
    elif _is_descendant(repo, state.head, current):
        # Re-indexing only removes the commits after HEAD, so it is as cheap as a rewrite.
        freshness.rewritten = True
        walker = repo.walk(state.head)
        walker.hide(current)
        dropped = sum(1 for _ in walker)
        freshness.message = (
            f"HEAD moved back to {current[:10]}, {counted(dropped, 'commit')} before the indexed {state.head[:10]} "
            f"(a checkout or reset); run `headstart index {opened.path}` to match it"
        )
    else:
        freshness.rewritten = True
        freshness.message = (
            f"history was rewritten: the indexed head {state.head[:10]} is not an ancestor of "
            f"HEAD {current[:10]} (a rebase, reset, checkout of another branch or force-push); "
            f"run `headstart index {opened.path}` to reconcile"
        )
    return opened.name, freshness


def _is_descendant(repo: pygit2.Repository, commit: str, ancestor: str) -> bool:
    """Tell whether `ancestor` is in the history of `commit`; False when either is missing."""
    try:
        return bool(repo.descendant_of(commit, ancestor))
    except (KeyError, ValueError, pygit2.GitError):
        return False
