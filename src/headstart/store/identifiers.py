"""Identifiers each file contains at a repository's indexed head, for matching code named in a task.

A task that names `default_mimetype` or `Config.from_file` points at the files that contain
those names, even when no past change to those files used the words. One row per file keeps the
file's distinct identifiers, so a brief served from another machine needs no checkout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from headstart.store import filters
from headstart.store.tables import open_table, replace_repository_rows

IDENTIFIERS_TABLE = "file_identifiers"
IDENTIFIERS_SCHEMA = pa.schema(
    [("repo", pa.string()), ("path", pa.string()), ("identifiers", pa.list_(pa.string()))]
)


class IdentifierTable:
    """Identifiers per file and repository, in the `file_identifiers` table of one connection."""

    def __init__(self, db: Any, write: Callable[[Callable[[], Any]], Any], query: Any) -> None:
        self._db = db
        self._write = write  # Store._write: retries conflicts, wraps errors in StoreError
        self._query = query  # Store._query
        self._table: Any = None

    def _identifiers(self) -> Any:
        if self._table is None:
            self._table = self._write(
                lambda: open_table(self._db, IDENTIFIERS_TABLE, IDENTIFIERS_SCHEMA)
            )
        return self._table

    def _exists(self) -> bool:
        return self._table is not None or IDENTIFIERS_TABLE in set(self._db.list_tables().tables)

    def save(self, repo: str, identifiers: Mapping[str, list[str]]) -> None:
        """Replace a repository's rows with `identifiers` (path → identifiers)."""
        rows = [
            {"repo": repo, "path": path, "identifiers": names}
            for path, names in sorted(identifiers.items())
        ]
        data = pa.Table.from_pylist(rows, schema=IDENTIFIERS_SCHEMA)
        table = self._identifiers()
        self._write(lambda: replace_repository_rows(table, data, repo))

    def load(self, repo: str) -> dict[str, list[str]] | None:
        """Return path → identifiers, or None when they were never saved for `repo`."""
        if not self._exists():
            return None
        rows = self._query(self._identifiers(), filters.equals("repo", repo), ["path", "identifiers"])
        return {row["path"]: row["identifiers"] or [] for row in rows} if rows else None

    def saved(self, repo: str) -> bool:
        """Tell whether identifiers were saved for `repo`, reading one row at most."""
        if not self._exists():
            return False
        return bool(self._query(self._identifiers(), filters.equals("repo", repo), ["path"], 1))

    def delete(self, repo: str) -> None:
        if self._exists():
            table = self._identifiers()
            self._write(lambda: table.delete(filters.equals("repo", repo)))
