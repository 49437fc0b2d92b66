"""Offline imports: `gh pr list --json`, `gh issue list --json`, dumps of GitHub REST replies, Jira exports.

Each record's format is detected from its fields, so one file may mix formats. A record that cannot
be read is named in the report (by record number, or by line for CSV and broken JSON) and the
valid ones are imported.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headstart.indexers.messages import find_links
from headstart.indexers.trackers.github import (
    DEFAULT_BUG_LABELS,
    bug_from_rest,
    is_bug,
    landing_from_rest,
    parse_time,
    pull_request_from_rest,
    review_comment_from_rest,
    review_from_rest,
)
from headstart.indexers.trackers.http import TrackerError
from headstart.indexers.trackers.jira import is_jira_bug, jira_csv_items, jira_record
from headstart.indexers.trackers.writer import Landing, write_records
from headstart.records import Link, LinkKind, Record, RecordKind, record_id
from headstart.store import Store

logger = logging.getLogger("headstart.indexers.trackers")

_WEB_URL = re.compile(r"^https?://(?P<host>[^/]+)/(?P<slug>[^/]+/[^/]+)/(?:pull|issues)/\d+")
_API_URL = re.compile(
    r"^https?://(?P<host>[^/]+)/(?:api/v3/)?repos/(?P<slug>[^/]+/[^/]+)/(?:pulls|issues)/(?P<number>\d+)"
)


@dataclass
class ImportReport:
    """Counts of the records an import wrote, and an error for each record it could not read."""

    path: str
    written: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    repos: set[str] = field(default_factory=set)


@dataclass
class _Batch:
    records: list[Record] = field(default_factory=list)
    landings: dict[str, Landing] = field(default_factory=dict)


@dataclass
class ExportContents:
    """The records an export file holds, by repository, read but not yet stored."""

    report: ImportReport
    batches: dict[str, _Batch] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(len(batch.records) for batch in self.batches.values())


def import_file(
    store: Store,
    path: Path,
    *,
    repo: str | None = None,
    bug_labels: Sequence[str] = DEFAULT_BUG_LABELS,
) -> ImportReport:
    """Read an export file into the store; `repo` names the repository when the file does not."""
    return write_export(store, read_export(path, repo=repo, bug_labels=bug_labels))


def read_export(
    path: Path,
    *,
    repo: str | None = None,
    bug_labels: Sequence[str] = DEFAULT_BUG_LABELS,
    name: str | None = None,
) -> ExportContents:
    """Parse an export file into records; `name` labels it in the report in place of its path."""
    if not path.is_file():
        raise TrackerError(
            f"import file {str(path)!r} does not exist; pass the file `gh` or Jira wrote"
        )
    report = ImportReport(path=name or str(path))

    try:
        if path.suffix.lower() == ".csv":
            items = jira_csv_items(path, report.errors)
        else:
            items = _json_items(path.read_text(encoding="utf-8-sig"), report.errors)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TrackerError(
            f"import file {report.path!r} is not a UTF-8 JSON or CSV export ({exc}); "
            "pass the file `gh`, `gh api` or Jira wrote, unchanged"
        ) from exc

    # Review states first: a dump of review comments needs them to mark changes requested.
    states = {item["id"]: item.get("state") for _, item in items if _shape(item) == "rest_review"}
    batches: dict[str, _Batch] = {}
    for where, item in items:
        try:
            converted = _convert(item, where, repo, bug_labels, states)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            report.errors.append(f"{where}: {_describe(exc)}; record skipped")
            continue
        if converted is None:
            continue
        target_repo, records, landing = converted
        batch = batches.setdefault(target_repo, _Batch())
        batch.records += records
        if landing is not None:
            batch.landings[records[0].key] = landing
    return ExportContents(report=report, batches=batches)


def write_export(store: Store, contents: ExportContents) -> ImportReport:
    """Store the records `read_export` found, and count them by kind in the report."""
    report = contents.report
    batches = contents.batches
    for target_repo, batch in batches.items():
        write_records(store, target_repo, batch.records, landings=batch.landings)
        report.repos.add(target_repo)
        for record in batch.records:
            report.written[record.kind.value] = report.written.get(record.kind.value, 0) + 1
    if batches:
        store.refresh_indexes()
    if report.errors:
        logger.warning(
            "%s: skipped %d unreadable records; the first: %s",
            report.path,
            len(report.errors),
            report.errors[0],
        )
    return report


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    if isinstance(exc, ValueError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _json_items(text: str, errors: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Split a file into records: a JSON array, arrays back to back (`gh api --paginate`), or JSON lines."""
    items: list[tuple[str, dict[str, Any]]] = []
    decoder = json.JSONDecoder()
    position = 0
    number = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        try:
            document, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            errors.append(f"line {exc.lineno}: invalid JSON ({exc.msg}); skipped to the next line")
            following = text.find("\n", exc.pos)
            position = len(text) if following < 0 else following + 1
            continue
        for item in _flatten(document):
            number += 1
            if isinstance(item, dict):
                items.append((f"record {number}", item))
            else:
                errors.append(
                    f"record {number}: expected a JSON object, found {type(item).__name__}; record skipped"
                )
    return items


def _flatten(document: Any) -> Iterator[Any]:
    if isinstance(document, list):
        yield from document
    elif isinstance(document, dict) and isinstance(document.get("issues"), list):
        yield from document["issues"]  # a Jira search reply
    else:
        yield document


def _shape(item: Mapping[str, Any]) -> str | None:
    if "key" in item and "fields" in item:
        return "jira"
    if "pull_request_review_id" in item and "path" in item:
        return "rest_review_comment"
    if "submitted_at" in item and "pull_request_url" in item:
        return "rest_review"
    if "html_url" in item and "number" in item:
        if "/pull/" in str(item["html_url"]) or "pull_request" in item:
            return "rest_pull"
        return "rest_issue"
    if "url" in item and ("number" in item or _WEB_URL.match(str(item["url"]))):
        return "gh_pull" if "/pull/" in str(item["url"]) else "gh_issue"
    return None


def _convert(
    item: Mapping[str, Any],
    where: str,
    repo: str | None,
    bug_labels: Sequence[str],
    states: Mapping[Any, Any],
) -> tuple[str, list[Record], Landing | None] | None:
    shape = _shape(item)
    if shape is None:
        raise ValueError(f"unknown record shape (fields: {', '.join(sorted(item)[:8])})")
    if shape == "jira":
        if repo is None:
            raise ValueError(
                "a Jira issue does not name its repository; pass --repo host/owner/name (`repo` over HTTP)"
            )
        if not is_jira_bug(item, bug_labels):
            return None
        return repo, [jira_record(repo, item)], None
    if shape == "rest_review":
        return None  # used only for the states of review comments

    target = repo or _repo_from_url(
        str(item.get("html_url") or item.get("pull_request_url") or item.get("url") or "")
    )
    if shape == "gh_pull":
        return target, gh_pull_records(target, item), _gh_landing(item)
    if shape == "gh_issue":
        if not is_bug(_names(item.get("labels")), None, bug_labels):
            return None
        return target, [gh_issue_record(target, item)], None
    if shape == "rest_review_comment":
        number = int(_API_URL.match(item["pull_request_url"])["number"])
        return (
            target,
            [
                review_comment_from_rest(
                    target, number, item, states.get(item.get("pull_request_review_id"))
                )
            ],
            None,
        )
    if shape == "rest_pull":
        pull = dict(item)
        # Pull requests in an issue listing carry their merge time under `pull_request`.
        pull.setdefault("merged_at", (item.get("pull_request") or {}).get("merged_at"))
        return target, [pull_request_from_rest(target, pull, [])], landing_from_rest(pull)
    if not is_bug(_names(item.get("labels")), (item.get("type") or {}).get("name"), bug_labels):
        return None
    return target, [bug_from_rest(target, item)], None


def _repo_from_url(url: str) -> str:
    match = _WEB_URL.match(url) or _API_URL.match(url)
    if match is None:
        raise ValueError(
            f"cannot tell the repository from url {url!r}; pass --repo host/owner/name (`repo` over HTTP)"
        )
    host = match["host"].lower()
    return f"{'github.com' if host == 'api.github.com' else host}/{match['slug']}"


def _names(labels: Any) -> list[str]:
    return [label["name"] if isinstance(label, dict) else str(label) for label in labels or []]


def _login(author: Any) -> str:
    return str((author or {}).get("login") or "ghost")


def _created(item: Mapping[str, Any]) -> Any:
    for name in ("createdAt", "mergedAt", "closedAt", "updatedAt"):
        if item.get(name):
            return parse_time(item[name])
    raise ValueError(
        "no createdAt, mergedAt, closedAt or updatedAt; add createdAt to the --json fields"
    )


def _numbers(references: Any) -> list[int]:
    return [int(ref["number"]) if isinstance(ref, dict) else int(ref) for ref in references or []]


def gh_pull_records(repo: str, item: Mapping[str, Any]) -> list[Record]:
    """Build a pull request and its change-requesting reviews from one object of `gh pr list --json`."""
    number = int(item["number"])
    key = f"#{number}"
    state = str(item.get("state") or "OPEN").lower()
    files = [entry["path"] for entry in item.get("files") or []]
    body = item.get("body") or ""

    links = [
        Link(kind=LinkKind.FIXES, target=f"issue:#{issue}")
        for issue in _numbers(item.get("closingIssuesReferences"))
    ]
    links += [
        link for link in find_links(body) if link.kind == LinkKind.FIXES and link not in links
    ]
    merge = (item.get("mergeCommit") or {}).get("oid")
    if state == "merged" and merge:
        links.insert(0, Link(kind=LinkKind.MERGED_AS, target=f"commit:{merge}"))
    records = [
        Record(
            id=record_id(repo, RecordKind.PULL_REQUEST, key),
            repo=repo,
            kind=RecordKind.PULL_REQUEST,
            key=key,
            number=number,
            title=item.get("title") or "",
            body=body,
            files=files,
            authors=[_login(item.get("author"))],
            created_at=_created(item),
            url=item.get("url"),
            links=links,
            labels=[state, *_names(item.get("labels"))],
        )
    ]

    # gh names review fields in camelCase; map them to the REST names the builder reads.
    for review in item.get("reviews") or []:
        rest_review = {
            "id": review.get("id"),
            "state": review.get("state"),
            "body": review.get("body"),
            "user": review.get("author"),
            "submitted_at": review.get("submittedAt"),
        }
        record = review_from_rest(repo, number, rest_review, files)
        if record is not None:
            record.url = item.get("url")
            records.append(record)
    return records


def _gh_landing(item: Mapping[str, Any]) -> Landing | None:
    merge = (item.get("mergeCommit") or {}).get("oid")
    if str(item.get("state")).upper() != "MERGED" or not merge:
        return None
    commits = item.get("commits")
    return Landing(merge_sha=merge, commits=len(commits) if isinstance(commits, list) else None)


def gh_issue_record(repo: str, item: Mapping[str, Any]) -> Record:
    """Build a bug record from one object of `gh issue list --json`."""
    number = int(item["number"])
    labels = [str(item.get("state") or "OPEN").lower(), *_names(item.get("labels"))]
    if str(item.get("stateReason") or "").upper() == "NOT_PLANNED":
        labels.append("not_planned")
    closers = _numbers(item.get("closedByPullRequestsReferences"))
    return Record(
        id=record_id(repo, RecordKind.BUG, f"#{number}"),
        repo=repo,
        kind=RecordKind.BUG,
        key=f"#{number}",
        number=number,
        title=item.get("title") or "",
        body=item.get("body") or "",
        authors=[_login(item.get("author"))],
        created_at=_created(item),
        url=item.get("url"),
        links=[
            Link(kind=LinkKind.FIXED_BY, target=f"pull_request:#{closer}") for closer in closers
        ],
        labels=labels,
    )
