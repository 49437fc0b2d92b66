"""GitLab merge requests with their diff notes, and bugs, from the REST API (v4)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from headstart.indexers.messages import find_links
from headstart.indexers.trackers.checkpoints import Checkpoints
from headstart.indexers.trackers.github import DEFAULT_BUG_LABELS, TrackerReport, is_bug, parse_time
from headstart.indexers.trackers.http import Auth, TrackerClient, TrackerError
from headstart.indexers.trackers.writer import write_records
from headstart.records import Link, LinkKind, Record, RecordKind, record_id
from headstart.store import Store
from headstart.store.checkpoints import GITLAB_LISTINGS, tracker_checkpoint

logger = logging.getLogger("headstart.indexers.trackers")

_PROJECT = re.compile(r"^[\w.-]+(?:/[\w.-]+)+$")
TOKEN_HELP = "set GITLAB_TOKEN (or `token` under [gitlab] in the file named by HEADSTART_TRACKER_CONFIG) to a token with read_api scope"


def merge_request_key(project: str, iid: int) -> str:
    return f"{project}!{iid}"


def merge_request_from_rest(repo: str, project: str, request: Mapping[str, Any], files: Sequence[str], commits: Sequence[str]) -> Record:
    """Build a merge request record whose merged_as links name every commit it put on the target branch."""
    iid = int(request["iid"])
    key = merge_request_key(project, iid)
    state = str(request.get("state") or "opened")
    body = request.get("description") or ""
    links = [link for link in find_links(body) if link.kind == LinkKind.FIXES]
    if state == "merged":
        # A merge commit, a squash commit, or with fast-forward merges the request's own commits.
        landed = [sha for sha in (request.get("merge_commit_sha"), request.get("squash_commit_sha")) if sha]
        for sha in landed or commits:
            links.append(Link(kind=LinkKind.MERGED_AS, target=f"commit:{sha}"))
    return Record(
        id=record_id(repo, RecordKind.PULL_REQUEST, key),
        repo=repo,
        kind=RecordKind.PULL_REQUEST,
        key=key,
        number=iid,
        title=request.get("title") or "",
        body=body,
        files=list(files),
        authors=[_username(request.get("author"))],
        created_at=parse_time(request["created_at"]),
        url=request.get("web_url"),
        links=links,
        labels=[state, *(str(label) for label in request.get("labels") or [])],
    )


def note_from_rest(repo: str, project: str, iid: int, note: Mapping[str, Any], web_url: str | None = None) -> Record | None:
    """Build a review comment from a diff note, or return None for a system note or a note on no file."""
    position = note.get("position") or {}
    path = position.get("new_path") or position.get("old_path")
    if note.get("system") or not path:
        return None
    line = position.get("new_line") or position.get("old_line")
    key = f"{merge_request_key(project, iid)}/note-{note['id']}"
    return Record(
        id=record_id(repo, RecordKind.REVIEW_COMMENT, key),
        repo=repo,
        kind=RecordKind.REVIEW_COMMENT,
        key=key,
        number=iid,
        title=f"Review comment on !{iid} at {path}" + (f":{line}" if line else ""),
        body=note.get("body") or "",
        files=[path],
        authors=[_username(note.get("author"))],
        created_at=parse_time(note["created_at"]),
        url=f"{web_url}#note_{note['id']}" if web_url else None,
        labels=[f"line:{line}"] if line else [],
    )


def bug_from_gitlab(repo: str, project: str, issue: Mapping[str, Any], closed_by: Sequence[int]) -> Record:
    iid = int(issue["iid"])
    key = f"{project}#{iid}"
    state = "open" if issue.get("state") == "opened" else str(issue.get("state") or "open")
    return Record(
        id=record_id(repo, RecordKind.BUG, key),
        repo=repo,
        kind=RecordKind.BUG,
        key=key,
        number=iid,
        title=issue.get("title") or "",
        body=issue.get("description") or "",
        authors=[_username(issue.get("author"))],
        created_at=parse_time(issue["created_at"]),
        url=issue.get("web_url"),
        links=[Link(kind=LinkKind.FIXED_BY, target=f"pull_request:{merge_request_key(project, number)}") for number in closed_by],
        labels=[state, *(str(label) for label in issue.get("labels") or [])],
    )


def _username(user: Mapping[str, Any] | None) -> str:
    return str((user or {}).get("username") or "ghost")


def index_gitlab(
    store: Store,
    project: str,
    *,
    token: str | None,
    checkpoints: Checkpoints,
    url: str = "https://gitlab.com",
    bug_labels: Sequence[str] = DEFAULT_BUG_LABELS,
    repo_name: str | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
    backoff: float = 1.0,
) -> TrackerReport:
    """Fetch merge requests (with diffs and notes) and bugs updated since the last run."""
    if not _PROJECT.match(project):
        raise TrackerError(f"--gitlab {project!r} is not group/project; pass it like `--gitlab gitlab-org/cli`")
    repo = repo_name or f"{(urlsplit(url).hostname or 'gitlab.com').lower()}/{project}"
    source = f"gitlab:{repo}"
    report = TrackerReport(source=source, repo=repo)
    encoded = quote(project, safe="")
    api = url.rstrip("/") + "/api/v4"

    auth = Auth("PRIVATE-TOKEN", token) if token else None
    options: dict[str, Any] = {"transport": transport, "backoff": backoff}
    if sleep is not None:
        options["sleep"] = sleep
    with TrackerClient(source, api, auth, token_help=TOKEN_HELP, **options) as client:
        try:
            client.get(f"projects/{encoded}")
            for listing in GITLAB_LISTINGS:
                key = tracker_checkpoint("gitlab", repo, store.uri, listing)
                params: dict[str, Any] = {"state": "all", "order_by": "updated_at", "sort": "asc", "per_page": 100}
                since = checkpoints.get(key)
                if since:
                    params["updated_after"] = since
                for page in client.pages(f"projects/{encoded}/{listing}", params):
                    records: list[Record] = []
                    try:
                        for item in page:
                            if listing == "merge_requests":
                                records += _merge_request_records(client, encoded, repo, project, item)
                            elif is_bug([str(label) for label in item.get("labels") or []], item.get("issue_type"), bug_labels):
                                records.append(bug_from_gitlab(repo, project, item, _closed_by(client, encoded, item)))
                    finally:
                        # Written on failure too, so what was read is kept; the checkpoint moves only after a whole page.
                        write_records(store, repo, records, project=project)
                        report.count(records)
                    if page:
                        checkpoints.set(key, page[-1]["updated_at"])
        finally:
            report.requests = client.requests
            if report.pull_requests or report.bugs:
                store.refresh_indexes()
    logger.info("%s: %d merge requests, %d review comments, %d bugs", source, report.pull_requests, report.review_comments, report.bugs)
    return report


def _merge_request_records(client: TrackerClient, encoded: str, repo: str, project: str, item: Mapping[str, Any]) -> list[Record]:
    iid = int(item["iid"])
    base = f"projects/{encoded}/merge_requests/{iid}"
    files = [diff.get("new_path") or diff.get("old_path") for page in client.pages(f"{base}/diffs", {"per_page": 100}) for diff in page]
    commits: list[str] = []
    if item.get("state") == "merged" and not (item.get("merge_commit_sha") or item.get("squash_commit_sha")):
        commits = [commit["id"] for page in client.pages(f"{base}/commits", {"per_page": 100}) for commit in page]
    records = [merge_request_from_rest(repo, project, item, files, commits)]
    for page in client.pages(f"{base}/notes", {"sort": "asc", "per_page": 100}):
        for note in page:
            record = note_from_rest(repo, project, iid, note, item.get("web_url"))
            if record is not None:
                records.append(record)
    return records


def _closed_by(client: TrackerClient, encoded: str, issue: Mapping[str, Any]) -> list[int]:
    if issue.get("state") != "closed":
        return []
    return [int(request["iid"]) for page in client.pages(f"projects/{encoded}/issues/{issue['iid']}/closed_by") for request in page]


__all__ = ["TrackerError", "index_gitlab"]
