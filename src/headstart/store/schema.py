"""Arrow schemas of the store's tables and the conversion between rows and records."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from headstart.records import FileChange, Link, Record, RecordKind

RECORDS_TABLE = "records"
REPOSITORIES_TABLE = "repositories"
MODEL_KEY = b"headstart.model"
DIMENSION_KEY = b"headstart.dimension"

_LINK = pa.struct([("kind", pa.string()), ("target", pa.string())])


def records_schema(model: str, dimension: int) -> pa.Schema:
    """Schema of the records table; the embedding model's name and size travel with it."""
    return pa.schema(
        [
            # Not nullable, because it is the table's primary key (see headstart.store.tables).
            pa.field("id", pa.string(), nullable=False),
            ("repo", pa.string()),
            ("kind", pa.string()),
            ("key", pa.string()),
            ("title", pa.string()),
            ("body", pa.string()),
            ("text", pa.string()),
            ("files", pa.list_(pa.string())),
            ("authors", pa.list_(pa.string())),
            ("created_at", pa.timestamp("us", tz="UTC")),
            ("url", pa.string()),
            ("links", pa.list_(_LINK)),
            ("link_targets", pa.list_(pa.string())),
            ("labels", pa.list_(pa.string())),
            ("parents", pa.list_(pa.string())),
            ("changes", pa.string()),
            ("number", pa.int64()),
            ("vector", pa.list_(pa.float32(), dimension)),
        ],
        metadata={MODEL_KEY: model.encode(), DIMENSION_KEY: str(dimension).encode()},
    )


HEAD_FILES_TABLE = "head_files"
HEAD_FILES_SCHEMA = pa.schema([("repo", pa.string()), ("path", pa.string())])

REPOSITORIES_SCHEMA = pa.schema(
    [
        pa.field("repo", pa.string(), nullable=False),
        ("path", pa.string()),
        ("head", pa.string()),
        ("revision", pa.string()),
        ("commits", pa.int64()),
        ("pull_requests", pa.int64()),
        ("indexed_at", pa.timestamp("us", tz="UTC")),
    ]
)


def search_text(record: Record) -> str:
    """Build the text that full-text search and embedding read: title, body, then file paths."""
    parts = [record.title, record.body[:2000]]
    if record.files:
        parts.append("Files: " + " ".join(record.files[:50]))
    return "\n".join(part for part in parts if part)


def record_to_row(record: Record, vector: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "repo": record.repo,
        "kind": record.kind.value,
        "key": record.key,
        "title": record.title,
        "body": record.body,
        "text": search_text(record),
        "files": record.files,
        "authors": record.authors,
        "created_at": record.created_at.astimezone(timezone.utc),
        "url": record.url,
        "links": [{"kind": link.kind.value, "target": link.target} for link in record.links],
        "link_targets": [link.target for link in record.links],
        "labels": record.labels,
        "parents": record.parents,
        "changes": json.dumps([change.model_dump(exclude_defaults=True) for change in record.changes]),
        "number": record.number,
        "vector": vector,
    }


def row_to_record(row: dict[str, Any]) -> Record:
    created_at = row["created_at"]
    if isinstance(created_at, datetime) and created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=timezone.utc)
    changes = json.loads(row.get("changes") or "[]")
    return Record(
        id=row["id"],
        repo=row["repo"],
        kind=RecordKind(row["kind"]),
        key=row["key"],
        title=row["title"] or "",
        body=row.get("body") or "",
        files=list(row.get("files") or []),
        authors=list(row.get("authors") or []),
        created_at=created_at,
        url=row.get("url"),
        links=[Link(**link) for link in row.get("links") or []],
        labels=list(row.get("labels") or []),
        parents=list(row.get("parents") or []),
        changes=[FileChange(**change) for change in changes],
        number=row.get("number"),
    )
