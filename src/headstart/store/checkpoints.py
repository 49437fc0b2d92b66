"""Checkpoints of incremental sources (tracker listings), kept in the store beside their records.

Kept in the store rather than on the disk of the machine that ran the job, a checkpoint lets a
job on any machine continue where the last one stopped. It also stays with the records it
describes, so a new store starts from the beginning on every machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from headstart.store import filters
from headstart.store.tables import open_table, strict_keys

CHECKPOINTS_TABLE = "checkpoints"
CHECKPOINTS_SCHEMA = strict_keys(
    pa.schema([("source", pa.string()), ("value", pa.string()), ("updated_ms", pa.int64())]),
    ["source"],
)
# The GitLab listings the indexer reads, each with a checkpoint of its own. GitHub has one.
GITLAB_LISTINGS = ("merge_requests", "issues")
# Each repository's tracker listings with a checkpoint: (tracker, listing or None).
TRACKER_LISTINGS: tuple[tuple[str, str | None], ...] = (
    ("github", None),
    *(("gitlab", listing) for listing in GITLAB_LISTINGS),
)


def tracker_checkpoint(tracker: str, repo: str, store_uri: str, listing: str | None = None) -> str:
    """Name the checkpoint of one tracker listing of `repo`: `github:REPO@STORE`, `gitlab:REPO:issues@STORE`.

    The store's URI is part of the name: the file that older versions kept outside the store has
    one checkpoint per store.
    """
    source = f"{tracker}:{repo}" if listing is None else f"{tracker}:{repo}:{listing}"
    return f"{source}@{store_uri}"


def tracker_checkpoint_prefixes(repo: str) -> tuple[str, ...]:
    """Return what the names of `repo`'s tracker checkpoints start with, whatever the store."""
    return tuple(tracker_checkpoint(tracker, repo, "", listing) for tracker, listing in TRACKER_LISTINGS)


class CheckpointTable:
    """Checkpoint values by source name, in the `checkpoints` table of one LanceDB connection."""

    def __init__(self, db: Any, write: Callable[[Callable[[], Any]], Any], query: Any) -> None:
        self._db = db
        self._write = write  # Store._write: retries conflicts, wraps errors in StoreError
        self._query = query  # Store._query
        self._table: Any = None

    def _checkpoints(self) -> Any:
        if self._table is None:
            self._table = self._write(
                lambda: open_table(self._db, CHECKPOINTS_TABLE, CHECKPOINTS_SCHEMA, key="source")
            )
        return self._table

    def get(self, source: str) -> str | None:
        if self._table is None and CHECKPOINTS_TABLE not in set(self._db.list_tables().tables):
            return None
        rows = self._query(self._checkpoints(), filters.equals("source", source), ["value"], 1)
        return rows[0]["value"] if rows else None

    def set(self, source: str, value: str) -> None:
        """Record `value` for `source`; write it only after the records it covers are stored."""
        row = {"source": source, "value": value, "updated_ms": int(time.time() * 1000)}
        data = pa.Table.from_pylist([row], schema=CHECKPOINTS_SCHEMA)
        table = self._checkpoints()
        self._write(
            lambda: (
                table.merge_insert("source")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(data)
            )
        )

    def delete_repository(self, repo: str) -> list[str]:
        """Remove the checkpoints of `repo`'s tracker listings (`tracker_checkpoint`); return their sources.

        Keys naming any store URI match, so a store that was moved loses them too.
        """
        if self._table is None and CHECKPOINTS_TABLE not in set(self._db.list_tables().tables):
            return []
        prefixes = tracker_checkpoint_prefixes(repo)
        rows = self._query(self._checkpoints(), None, ["source"])
        sources = [row["source"] for row in rows if row["source"].startswith(prefixes)]
        if sources:
            table = self._checkpoints()
            self._write(lambda: table.delete(filters.is_in("source", sources)))
        return sources
