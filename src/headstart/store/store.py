"""The store: records with vectors in LanceDB, searched by vector and full text together."""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

# LanceDB's Rust core logs deprecation notices at WARN straight to stderr; keep only errors.
os.environ.setdefault("LANCEDB_LOG", "error")

import lancedb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from lancedb.rerankers import RRFReranker  # noqa: E402

from headstart.errors import StoreError
from headstart.records import INVERSE_LINKS, Link, LinkKind, Record
from headstart.store import filters
from headstart.store.checkpoints import CheckpointTable
from headstart.store.embedder import Embedder, resolve_model
from headstart.store.identifiers import IdentifierTable
from headstart.store.leases import LEASE_SECONDS, LeaseHeldError, Leases, index_lease
from headstart.store.schema import (
    DIMENSION_KEY,
    HEAD_FILES_SCHEMA,
    HEAD_FILES_TABLE,
    MODEL_KEY,
    RECORDS_TABLE,
    REPOSITORIES_SCHEMA,
    REPOSITORIES_TABLE,
    record_to_row,
    records_schema,
    row_to_record,
    search_text,
)
from headstart.store.stats import StatsTables
from headstart.store.tables import (
    ensure_primary_key,
    open_table,
    replace_repository_rows,
    retry_on_conflict,
)

logger = logging.getLogger("headstart.store")


@dataclass(frozen=True)
class RepositoryState:
    """The head, revision and counts the last index run of a repository reached."""

    repo: str
    path: str
    head: str
    revision: str
    commits: int
    pull_requests: int
    indexed_at: datetime


@dataclass(frozen=True)
class SearchHit:
    """A record found by a search: its fused rank score and its cosine similarity to the query."""

    record: Record
    score: float
    similarity: float


class Store:
    """Records of many repositories in one LanceDB database at `uri`."""

    def __init__(self, uri: str, embedder: Embedder, storage_options: Mapping[str, str] | None = None) -> None:
        """Connect to the LanceDB database at `uri`; `storage_options` configure object storage."""
        self.uri = uri
        self.embedder = embedder
        try:
            # Check for other writers on every read, so a long-running server reads new index runs.
            self._db = lancedb.connect(
                uri, read_consistency_interval=timedelta(0), storage_options=dict(storage_options or {}) or None
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise StoreError(f"could not open the store at {uri!r}: {_open_failure(str(exc))}") from exc
        self._records: Any = None
        self._records_keyed = False
        # Handles are kept: with read_consistency_interval=0 each read returns the latest version.
        self._repositories: Any = None
        self._repositories_keyed = False
        self._head_files: Any = None
        self.stats = StatsTables(self._db, self._write, self._query)
        self.leases = Leases(self._db, self._write, self._query)
        self.checkpoints = CheckpointTable(self._db, self._write, self._query)
        self.identifiers = IdentifierTable(self._db, self._write, self._query)

    # Tables

    def _table_names(self) -> set[str]:
        return set(self._db.list_tables().tables)

    def records_table(self, create: bool = False) -> Any:
        """Open the records table, checking that it was built with this store's model."""
        if self._records is None:
            if RECORDS_TABLE in self._table_names():
                table = self._db.open_table(RECORDS_TABLE)
                self._check_model(table.schema)
            elif create:
                schema = records_schema(self.embedder.model_name, self.embedder.dimension)
                table = self._write(lambda: open_table(self._db, RECORDS_TABLE, schema))
                self._check_model(table.schema)
            else:
                return None
            self._records = table
        if create and not self._records_keyed:
            # Writers upgrade a table made before `id` was its primary key; readers leave it be.
            self._write(lambda: ensure_primary_key(self._records, "id"))
            self._records_keyed = True
        return self._records

    def _check_model(self, schema: pa.Schema) -> None:
        metadata = schema.metadata or {}
        stored = metadata.get(MODEL_KEY, b"").decode()
        # Two spellings of the bundled default model name the same weights.
        if stored and resolve_model(stored) != resolve_model(self.embedder.model_name):
            raise StoreError(
                f"the store at {self.uri!r} contains vectors from model {stored!r} "
                f"({metadata.get(DIMENSION_KEY, b'?').decode()} dimensions), not {self.embedder.model_name!r}; "
                f"use --model {stored!r}, or re-index into a new store with --db PATH "
                "(or delete this one and run `headstart index` again)"
            )

    @property
    def stored_model(self) -> str | None:
        table = self.records_table()
        if table is None:
            return None
        return (table.schema.metadata or {}).get(MODEL_KEY, b"").decode() or None

    def _repositories_table(self, write: bool = False) -> Any:
        if self._repositories is None:
            self._repositories = self._write(lambda: open_table(self._db, REPOSITORIES_TABLE, REPOSITORIES_SCHEMA))
        if write and not self._repositories_keyed:
            self._write(lambda: ensure_primary_key(self._repositories, "repo"))
            self._repositories_keyed = True
        return self._repositories

    # Repository state

    def repository_state(self, repo: str) -> RepositoryState | None:
        if self._repositories is None and REPOSITORIES_TABLE not in self._table_names():
            return None
        rows = self._query(self._repositories_table(), filters.equals("repo", repo), None, limit=1)
        return RepositoryState(**rows[0]) if rows else None

    def repository_states(self) -> list[RepositoryState]:
        if self._repositories is None and REPOSITORIES_TABLE not in self._table_names():
            return []
        table = self._repositories_table()
        return [RepositoryState(**row) for row in table.to_arrow().to_pylist()]

    def record_repositories(self) -> set[str]:
        """Return the names of the repositories that have records, from git or only from a tracker."""
        table = self.records_table()
        if table is None:
            return set()
        try:
            names = table.search().select(["repo"]).limit(None).to_arrow().column("repo")
        except (OSError, ValueError, RuntimeError) as exc:
            raise StoreError(f"reading from the store at {self.uri!r} failed: {exc}") from exc
        return set(names.unique().to_pylist())

    def save_repository_state(self, state: RepositoryState) -> None:
        row = {**state.__dict__, "indexed_at": state.indexed_at.astimezone(timezone.utc)}
        self._write(
            lambda: self._repositories_table(write=True)
            .merge_insert("repo")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(pa.Table.from_pylist([row], schema=REPOSITORIES_SCHEMA))
        )

    def version(self) -> int:
        """Return a number that changes whenever the records table does, for callers to key caches on."""
        table = self.records_table()
        return -1 if table is None else int(table.version)

    # Files at the indexed head

    def _head_files_table(self) -> Any:
        if self._head_files is None:
            self._head_files = self._write(lambda: open_table(self._db, HEAD_FILES_TABLE, HEAD_FILES_SCHEMA))
        return self._head_files

    def save_head_files(self, repo: str, paths: Sequence[str]) -> None:
        """Replace the list of files tracked at a repository's indexed head."""
        table = self._head_files_table()
        data = pa.Table.from_pylist([{"repo": repo, "path": path} for path in paths], schema=HEAD_FILES_SCHEMA)
        self._write(lambda: replace_repository_rows(table, data, repo))

    def head_files(self, repo: str) -> set[str] | None:
        """Files tracked at the indexed head, or None when the index predates this list."""
        if self._head_files is None and HEAD_FILES_TABLE not in self._table_names():
            return None
        table = self._head_files_table()
        rows = self._query(table, filters.equals("repo", repo), ["path"])
        return {row["path"] for row in rows} if rows else None

    # Writes

    def upsert(self, records: Sequence[Record], vectors: np.ndarray) -> None:
        """Insert or replace records by id; a failing write raises StoreError with LanceDB's message.

        When `records` repeats an id, the last one is kept, so the table never contains two
        rows with one id.
        """
        if not records:
            return
        if len(vectors) != len(records):
            raise ValueError(f"expected one vector per record, got {len(vectors)} for {len(records)} records")
        table = self.records_table(create=True)
        latest = {record.id: index for index, record in enumerate(records)}
        rows = [record_to_row(records[index], vectors[index]) for index in sorted(latest.values())]
        data = pa.Table.from_pylist(rows, schema=table.schema)
        self._write(
            lambda: table.merge_insert("id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(data)
        )

    def embed_and_upsert(self, records: Sequence[Record]) -> None:
        vectors = self.embedder.encode([search_text(record) for record in records])
        self.upsert(records, vectors)

    def delete(self, repo: str, ids: Sequence[str]) -> None:
        table = self.records_table()
        if table is None or not ids:
            return
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            where = filters.all_of(filters.equals("repo", repo), filters.is_in("id", chunk))
            self._write(lambda where=where: table.delete(where))

    def delete_repository(self, repo: str) -> dict[str, int]:
        """Remove everything the store keeps for `repo`; return the records removed, counted by kind.

        Takes the repository's index lease first, so it raises LeaseHeldError while an index
        job writes the repository, and no job starts on it until the rows are gone. Other
        repositories' rows are left as they were.
        """
        try:
            lease = self.leases.acquire(index_lease(repo), LEASE_SECONDS)
        except LeaseHeldError as exc:
            raise LeaseHeldError(f"cannot remove {repo!r} from the store yet: {exc}") from exc
        with lease:
            removed = dict(Counter(self.columns(repo, ["kind"]).column("kind").to_pylist()))
            where = filters.equals("repo", repo)
            table = self.records_table()
            if table is not None:
                self._write(lambda: table.delete(where))
            if self._head_files is not None or HEAD_FILES_TABLE in self._table_names():
                self._write(lambda: self._head_files_table().delete(where))
            self.identifiers.delete(repo)
            self.stats.delete(repo)
            self.checkpoints.delete_repository(repo)
            # Deleted last, so a run stopped halfway still lists the repository and can be run again.
            if self._repositories is not None or REPOSITORIES_TABLE in self._table_names():
                self._write(lambda: self._repositories_table(write=True).delete(where))
        logger.info("removed %s from the store: %s", repo, removed or "no records")
        return removed

    def refresh_indexes(self) -> None:
        """Build the full-text index, or fold rows it does not cover yet into it.

        Does nothing when the index already covers every row, so a run that wrote nothing
        leaves the table version as it was.
        """
        table = self.records_table()
        if table is None:
            return
        fts = [index for index in table.list_indices() if index.index_type == "FTS"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if not fts:
                self._write(lambda: table.create_fts_index("text", replace=True))
                return
            stats = table.index_stats(fts[0].name)
            if stats is not None and stats.num_unindexed_rows == 0:
                return
            self._write(lambda: table.optimize())

    def _write(self, operation: Any) -> Any:
        """Run a write, again after each commit conflict with a concurrent writer; errors become StoreError."""
        try:
            return retry_on_conflict(operation)
        except (OSError, ValueError, RuntimeError) as exc:
            raise StoreError(f"writing to the store at {self.uri!r} failed: {exc}") from exc

    # Reads

    def _query(
        self, table: Any, where: str | None, columns: list[str] | None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        query = table.search()
        if where:
            query = query.where(where)
        if columns:
            query = query.select(columns)
        # No limit means every matching row of one table version. A limit taken from count_rows()
        # could come from an older version than the query and cut rows another writer just added.
        query = query.limit(limit)
        try:
            return query.to_arrow().to_pylist()
        except (OSError, ValueError, RuntimeError) as exc:
            raise StoreError(f"reading from the store at {self.uri!r} failed: {exc}") from exc

    def keys(self, repo: str, kind: str) -> dict[str, str]:
        """Map natural key to id for every record of a kind in a repository."""
        table = self.records_table()
        if table is None:
            return {}
        where = filters.all_of(filters.equals("repo", repo), filters.equals("kind", kind))
        return {row["key"]: row["id"] for row in self._query(table, where, ["key", "id"])}

    def columns(self, repo: str, columns: list[str], kinds: Sequence[str] | None = None) -> pa.Table:
        """Read chosen columns of a repository's records, without vectors, as an Arrow table."""
        table = self.records_table()
        if table is None:
            return pa.table({column: [] for column in columns})
        where = filters.all_of(filters.equals("repo", repo), filters.is_in("kind", kinds) if kinds else None)
        query = table.search().where(where).select(columns).limit(None)
        try:
            return query.to_arrow()
        except (OSError, ValueError, RuntimeError) as exc:
            raise StoreError(f"reading from the store at {self.uri!r} failed: {exc}") from exc

    def get(self, repo: str, kind: str, key: str) -> Record | None:
        """Fetch one record with both directions of its links."""
        table = self.records_table()
        if table is None:
            return None
        where = filters.all_of(
            filters.equals("repo", repo), filters.equals("kind", kind), filters.equals("key", key)
        )
        rows = self._query(table, where, None, limit=1)
        if not rows:
            return None
        record = row_to_record(rows[0])
        record.links.extend(self.incoming_links(record))
        return record

    def incoming_links(self, record: Record) -> list[Link]:
        """Links other records hold to this one, named by their inverse relation."""
        table = self.records_table()
        where = filters.all_of(filters.equals("repo", record.repo), filters.has("link_targets", record.target))
        incoming: list[Link] = []
        for row in self._query(table, where, ["kind", "key", "links"]):
            for link in row["links"]:
                if link["target"] == record.target:
                    inverse = INVERSE_LINKS[LinkKind(link["kind"])]
                    incoming.append(Link(kind=inverse, target=f"{row['kind']}:{row['key']}"))
        return incoming

    def search(
        self,
        query: str,
        *,
        repo: str | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 10,
        offset: int = 0,
        vector: np.ndarray | None = None,
    ) -> list[SearchHit]:
        """Rank records by vector and full-text similarity, fused by reciprocal rank."""
        table = self.records_table()
        if table is None or not query.strip():
            return []
        if vector is None:
            vector = self.embedder.encode([query])[0]
        where = filters.all_of(
            filters.equals("repo", repo) if repo else None,
            filters.is_in("kind", kinds) if kinds else None,
        )
        columns = list(table.schema.names)
        builder = table.search(query_type="hybrid").vector(vector).text(_fts_query(query))
        if where:
            builder = builder.where(where, prefilter=True)
        builder = builder.select(columns).limit(offset + limit).rerank(RRFReranker())
        try:
            rows = builder.to_list()
        except (OSError, ValueError, RuntimeError) as exc:
            if "index" in str(exc).lower() and "fts" in str(exc).lower():
                rows = self._vector_only(table, vector, where, columns, offset + limit)
            else:
                raise StoreError(f"searching the store at {self.uri!r} failed: {exc}") from exc
        return [
            SearchHit(
                record=row_to_record(row),
                score=float(row.get("_relevance_score", 0.0)),
                # Stored vectors and the query vector are unit length, so the dot product is the cosine.
                similarity=float(np.dot(np.asarray(row["vector"], dtype=np.float32), vector)),
            )
            for row in rows[offset : offset + limit]
        ]

    def _vector_only(
        self, table: Any, vector: np.ndarray, where: str | None, columns: list[str], limit: int
    ) -> list[dict[str, Any]]:
        builder = table.search(vector)
        if where:
            builder = builder.where(where, prefilter=True)
        rows = builder.select(columns).limit(limit).to_list()
        for rank, row in enumerate(rows):
            row["_relevance_score"] = 1.0 / (60 + rank)
        return rows


def _fts_query(text: str) -> str:
    """Strip characters the full-text query parser treats as syntax, keeping the words."""
    cleaned = "".join(character if character.isalnum() or character in "_-./ " else " " for character in text)
    return " ".join(cleaned.split()) or text


# LanceDB reports object-store failures as long Rust debug dumps; these name the usual causes.
_OPEN_HINTS = (
    ("Failed to get AWS credentials", "no AWS credentials were found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
    ("BadScheme", "the endpoint is http://, which needs AWS_ALLOW_HTTP=true (or allow_http in [storage_options])"),
    ("ConnectionRefused", "nothing answered at the endpoint; check AWS_ENDPOINT_URL and that the server runs"),
    ("dns error", "the endpoint's host name does not resolve; check AWS_ENDPOINT_URL"),
    ("InvalidAccessKeyId", "the access key is not known to the server; check AWS_ACCESS_KEY_ID"),
    ("SignatureDoesNotMatch", "the secret key is wrong; check AWS_SECRET_ACCESS_KEY"),
    ("NoSuchBucket", "the bucket does not exist; create it or fix the URI"),
)
_DUMP_CHARS = 300


def _open_failure(text: str) -> str:
    """Shorten LanceDB's error and put the likely fix first when the cause is a known one."""
    short = text if len(text) <= _DUMP_CHARS else text[:_DUMP_CHARS] + " …"
    for marker, hint in _OPEN_HINTS:
        if marker in text:
            return f"{hint} ({short})"
    return short
