"""Opening LanceDB tables that several processes write at once, and retrying their commits.

Every write to a Lance table commits a new version. When two writers commit against the same
version, Lance either rebases one of them or reports a commit conflict. `merge_insert` retries
conflicts itself for a while, but other operations do not. `retry_on_conflict` retries whatever
still surfaces, which is safe because every write Headstart makes is an upsert or a delete by key.

Two concurrent `merge_insert` calls that insert the same new key both succeed, and leave the key
twice, unless the key column is the table's (unenforced) primary key: only then does Lance record
the inserted keys in the transaction and turn the second insert into a conflict that is retried
as an update. So every table keyed by one column gets that column as its primary key. Lance
accepts only single-column primary keys; tables keyed by several columns are written, per
repository, by the one index job holding that repository's lease (see `headstart.store.leases`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pyarrow as pa

from headstart.store import filters

logger = logging.getLogger("headstart.store")

T = TypeVar("T")

# Phrases of Lance's errors for a commit that lost a race with another writer. Each is worth
# another attempt, because the operation is then planned again against the version that won.
# "Incompatible transaction" also covers a write that raced the creation of the same new table.
_CONFLICT_MARKERS = (
    "commit conflict",
    "too much write contention",
    "incompatible transaction",
    "preempted by concurrent",
)
_PRIMARY_KEY_MARKERS = (
    b"lance-schema:unenforced-primary-key",
    b"lance-schema:unenforced-primary-key:position",
)
WRITE_ATTEMPTS = 8


def is_commit_conflict(exc: BaseException) -> bool:
    """Tell whether a LanceDB error reports a commit that raced another writer."""
    message = str(exc).lower()
    return any(marker in message for marker in _CONFLICT_MARKERS)


def retry_on_conflict(
    operation: Callable[[], T], *, attempts: int = WRITE_ATTEMPTS, what: str = "write"
) -> T:
    """Run `operation`, running it again after a commit conflict, with growing random pauses.

    The last conflict, and any other error, is raised unchanged.
    """
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except (OSError, ValueError, RuntimeError) as exc:
            if attempt == attempts or not is_commit_conflict(exc):
                raise
            # Random pauses keep two writers that collided from colliding again in step.
            delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
            logger.debug(
                "%s hit a commit conflict (attempt %d of %d); retrying in %.2fs",
                what,
                attempt,
                attempts,
                delay,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def strict_keys(schema: pa.Schema, keys: list[str]) -> pa.Schema:
    """Return `schema` with the key columns declared non-nullable, as a primary key requires."""
    for key in keys:
        index = schema.get_field_index(key)
        schema = schema.set(index, schema.field(index).with_nullable(False))
    return schema


def has_primary_key(schema: pa.Schema, key: str) -> bool:
    metadata = schema.field(key).metadata or {}
    return any(marker in metadata for marker in _PRIMARY_KEY_MARKERS)


def ensure_primary_key(table: Any, key: str) -> None:
    """Declare `key` the table's primary key, first making it non-nullable in tables made before."""
    if has_primary_key(table.schema, key):
        return

    def declare() -> None:
        try:
            if table.schema.field(key).nullable:
                table.alter_columns({"path": key, "nullable": False})
            table.set_unenforced_primary_key(key)
        except (OSError, ValueError, RuntimeError):
            # Another process declared it between our check and our call: nothing left to do.
            if not has_primary_key(table.schema, key):
                raise

    retry_on_conflict(declare, what=f"declaring {key!r} the primary key of {table.name!r}")
    logger.info("declared %r the primary key of table %r", key, table.name)


def open_table(db: Any, name: str, schema: pa.Schema, key: str | None = None) -> Any:
    """Open table `name`, creating it with `schema` when missing; give it primary key `key`.

    Creation tolerates a concurrent creator: the table one of them made is opened by both.
    """

    def exists() -> bool:
        return name in set(db.list_tables().tables)

    def open_or_create() -> Any:
        if exists():
            return db.open_table(name)
        try:
            return db.create_table(name, schema=schema)
        except (OSError, ValueError, RuntimeError):
            # Lost the race to create it; the winner's table (perhaps with its key declared) is ours.
            if exists():
                return db.open_table(name)
            raise

    table = retry_on_conflict(open_or_create, what=f"opening table {name!r}")
    if key is not None:
        ensure_primary_key(table, key)
    return table


def replace_repository_rows(table: Any, data: pa.Table, repo: str) -> Any:
    """Make `data` the rows of `repo` in `table`, keyed by repo and path, in one commit.

    Rows of `repo` missing from `data` are deleted; other repositories' rows are left alone.
    """
    return (
        table.merge_insert(["repo", "path"])
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .when_not_matched_by_source_delete(filters.equals("repo", repo))
        .execute(data)
    )
