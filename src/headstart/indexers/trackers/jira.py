"""Jira bugs from a REST search reply (JSON) or an issue-navigator CSV export."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from headstart.records import Record, RecordKind, record_id

# Jira's default CSV date format is `dd/MMM/yy h:mm a`; sites may set ISO-like ones instead.
_CSV_DATE_FORMATS = ("%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M")
_DONE_STATUSES = {"done", "closed", "resolved", "fixed"}


def is_jira_bug(item: Mapping[str, Any], bug_labels: Sequence[str]) -> bool:
    fields = item["fields"]
    wanted = {label.lower() for label in bug_labels}
    issue_type = str((fields.get("issuetype") or {}).get("name") or "").lower()
    return issue_type in wanted | {"bug"} or bool(wanted & {str(label).lower() for label in fields.get("labels") or []})


def jira_record(repo: str, item: Mapping[str, Any]) -> Record:
    """Build a bug record from one issue in Jira's REST shape (`key` plus `fields`)."""
    key = str(item["key"])
    fields = item["fields"]
    status = fields.get("status") or {}
    category = str((status.get("statusCategory") or {}).get("key") or "")
    closed = category == "done" or bool(fields.get("resolution")) or str(status.get("name") or "").lower() in _DONE_STATUSES
    reporter = fields.get("reporter") or fields.get("creator") or {}
    if not fields.get("created"):
        raise KeyError("created")
    return Record(
        id=record_id(repo, RecordKind.BUG, key),
        repo=repo,
        kind=RecordKind.BUG,
        key=key,
        title=str(fields.get("summary") or ""),
        body=_text(fields.get("description")),
        authors=[str(reporter.get("displayName") or reporter.get("name") or "unknown")],
        created_at=_jira_time(fields["created"]),
        url=_browse_url(item),
        labels=["closed" if closed else "open", *(str(label) for label in fields.get("labels") or [])],
    )


def _text(description: Any) -> str:
    """Plain text of a description: a string (API v2, CSV) or an Atlassian document (API v3)."""
    if description is None:
        return ""
    if isinstance(description, str):
        return description
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(str(node.get("text") or ""))
            for child in node.get("content") or []:
                walk(child)
            if node.get("type") in ("paragraph", "heading", "codeBlock", "listItem"):
                parts.append("\n")

    walk(description)
    return "".join(parts).strip()


def _jira_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
        for pattern in _CSV_DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
        if parsed is None:
            raise ValueError(f"unrecognised date {value!r}; export with Jira's default date format or ISO 8601") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _browse_url(item: Mapping[str, Any]) -> str | None:
    self_url = item.get("self")
    if not self_url:
        return None
    parts = urlsplit(str(self_url))
    return f"{parts.scheme}://{parts.netloc}/browse/{item['key']}"


def jira_csv_items(path: Path, errors: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Turn the rows of a Jira CSV export into the REST shape, naming each row by its line."""
    items: list[tuple[str, dict[str, Any]]] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            errors.append("line 1: the CSV file is empty")
            return items
        while True:
            # A quoted cell may span lines; name a row by the line it starts on.
            start = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            where = f"line {start}"
            if not any(cell.strip() for cell in row):
                continue
            # Jira repeats a column (Labels, Component/s) once per value.
            columns: dict[str, list[str]] = {}
            for name, value in zip(header, row, strict=False):
                columns.setdefault(name.strip(), []).append(value)

            def first(name: str) -> str:
                return next((value for value in columns.get(name, []) if value), "")

            if not first("Issue key"):
                errors.append(f"{where}: missing 'Issue key'; row skipped")
                continue
            items.append(
                (
                    where,
                    {
                        "key": first("Issue key"),
                        "fields": {
                            "summary": first("Summary"),
                            "description": first("Description"),
                            "issuetype": {"name": first("Issue Type")},
                            "status": {"name": first("Status"), "statusCategory": {"key": _category(first("Status Category"))}},
                            "resolution": first("Resolution") or None,
                            "labels": [value for value in columns.get("Labels", []) if value],
                            "reporter": {"displayName": first("Reporter")},
                            "created": first("Created") or None,
                        },
                    },
                )
            )
    return items


def _category(name: str) -> str:
    return {"done": "done", "in progress": "indeterminate", "to do": "new"}.get(name.strip().lower(), "")
