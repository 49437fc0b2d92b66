"""The labels of the pull requests a session's work landed in, read from the index store.

Git keeps no labels, so they come from the pull request records that the tracker indexers
wrote (`headstart index --github …`). The store names a repository as the indexer does (its
origin remote as `host/owner/name`, else its absolute path), so the session's clone is named the
same way. Each repository's pull requests are read once, as key → labels.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from headstart.errors import StoreError
from headstart.indexers.repository import repository_name
from headstart.ledger.reports import history
from headstart.records import RecordKind

if TYPE_CHECKING:
    # Only for the annotation: importing the store loads LanceDB, which most reports never use.
    from headstart.store import Store

logger = logging.getLogger("headstart.ledger.reports.pr_labels")


class PullRequestLabels:
    """Labels of the pull requests in one store, by the local path of a repository's clone."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_repo: dict[str, dict[str, list[str]]] = {}

    def labels(self, path: str, key: str) -> list[str]:
        """Return the labels of pull request `key` (`#21`) of the repository at `path`."""
        name = _store_name(path)
        if name is None:
            return []
        if name not in self._by_repo:
            self._by_repo[name] = self._read(name)
        return self._by_repo[name].get(key, [])

    def _read(self, name: str) -> dict[str, list[str]]:
        try:
            table = self.store.columns(
                name, ["key", "labels"], kinds=[RecordKind.PULL_REQUEST.value]
            )
        except StoreError as exc:
            # Labels only refine the type of work; the analysis goes on without them.
            logger.warning("pull request labels of %s not read: %s", name, exc)
            return {}
        found = {row["key"]: list(row["labels"] or []) for row in table.to_pylist()}
        logger.debug("%s: read labels of %d pull requests", name, len(found))
        return found


def _store_name(path: str) -> str | None:
    repo = history.open_repository(path)
    if repo is None:
        return None
    root = Path(repo.path if repo.is_bare else repo.workdir).resolve()
    return repository_name(repo, root)
