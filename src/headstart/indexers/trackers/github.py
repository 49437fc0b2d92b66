"""GitHub pull requests, reviews and bugs, from the REST API or from a dump of its responses."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from headstart.indexers.messages import find_links
from headstart.indexers.trackers.checkpoints import Checkpoints
from headstart.indexers.trackers.http import Auth, TrackerClient, TrackerError
from headstart.indexers.trackers.links import merge_links
from headstart.indexers.trackers.timeline import timeline_links
from headstart.indexers.trackers.writer import Landing, write_records
from headstart.records import Link, LinkKind, Record, RecordKind, record_id
from headstart.store import Store
from headstart.store.checkpoints import tracker_checkpoint

logger = logging.getLogger("headstart.indexers.trackers")

DEFAULT_BUG_LABELS = ("bug",)
_SLUG = re.compile(r"^[\w.-]+/[\w.-]+$")
TOKEN_HELP = "set GITHUB_TOKEN (or `token` under [github] in the file named by HEADSTART_TRACKER_CONFIG) to a token that can read the repository"


@dataclass
class TrackerReport:
    """Counts of the records one tracker run wrote."""

    source: str
    repo: str
    pull_requests: int = 0
    review_comments: int = 0
    bugs: int = 0
    skipped: list[str] = field(default_factory=list)
    requests: int = 0

    def count(self, records: Iterable[Record]) -> None:
        for record in records:
            if record.kind == RecordKind.PULL_REQUEST:
                self.pull_requests += 1
            elif record.kind == RecordKind.REVIEW_COMMENT:
                self.review_comments += 1
            elif record.kind == RecordKind.BUG:
                self.bugs += 1


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value)


def repo_name_for(api_url: str, slug: str) -> str:
    """Name a GitHub repository as the git indexer does: `github.com/owner/name` or `<GHE host>/owner/name`."""
    host = (urlsplit(api_url).hostname or "github.com").lower()
    return f"{'github.com' if host == 'api.github.com' else host}/{slug}"


def is_bug(labels: Sequence[str], issue_type: str | None, bug_labels: Sequence[str]) -> bool:
    wanted = {label.lower() for label in bug_labels}
    return (
        bool(wanted & {label.lower() for label in labels}) or (issue_type or "").lower() in wanted
    )


# Records from REST objects (the same shapes in API replies and in dumps of them)


def pull_request_from_rest(repo: str, pull: Mapping[str, Any], files: Sequence[str]) -> Record:
    number = int(pull["number"])
    state = (
        "merged"
        if pull.get("merged") or pull.get("merged_at")
        else str(pull.get("state") or "open")
    )
    labels = [state, *(label["name"] for label in pull.get("labels") or [])]
    body = pull.get("body") or ""
    links = [link for link in find_links(body) if link.kind == LinkKind.FIXES]
    if state == "merged" and pull.get("merge_commit_sha"):
        links.insert(0, Link(kind=LinkKind.MERGED_AS, target=f"commit:{pull['merge_commit_sha']}"))
    return Record(
        id=record_id(repo, RecordKind.PULL_REQUEST, f"#{number}"),
        repo=repo,
        kind=RecordKind.PULL_REQUEST,
        key=f"#{number}",
        number=number,
        title=pull.get("title") or "",
        body=body,
        files=list(files),
        authors=[_login(pull.get("user"))],
        created_at=parse_time(pull["created_at"]),
        url=pull.get("html_url"),
        links=links,
        labels=labels,
    )


def landing_from_rest(pull: Mapping[str, Any]) -> Landing | None:
    if (pull.get("merged") or pull.get("merged_at")) and pull.get("merge_commit_sha"):
        return Landing(merge_sha=pull["merge_commit_sha"], commits=pull.get("commits"))
    return None


def review_comment_from_rest(
    repo: str, number: int, comment: Mapping[str, Any], review_state: str | None
) -> Record:
    line = comment.get("line") or comment.get("original_line")
    labels = ["changes_requested"] if review_state == "CHANGES_REQUESTED" else []
    if line:
        labels.append(f"line:{line}")
    key = f"#{number}/{comment['id']}"
    return Record(
        id=record_id(repo, RecordKind.REVIEW_COMMENT, key),
        repo=repo,
        kind=RecordKind.REVIEW_COMMENT,
        key=key,
        number=number,
        title=f"Review comment on #{number} at {comment['path']}" + (f":{line}" if line else ""),
        body=comment.get("body") or "",
        files=[comment["path"]],
        authors=[_login(comment.get("user"))],
        created_at=parse_time(comment["created_at"]),
        url=comment.get("html_url"),
        labels=labels,
    )


def review_from_rest(
    repo: str, number: int, review: Mapping[str, Any], files: Sequence[str]
) -> Record | None:
    """Build a record from a review that requested changes with a summary, else return None.

    Other reviews carry no text about a file, so they are left out.
    """
    if review.get("state") != "CHANGES_REQUESTED" or not (review.get("body") or "").strip():
        return None
    key = f"#{number}/review-{review['id']}"
    return Record(
        id=record_id(repo, RecordKind.REVIEW_COMMENT, key),
        repo=repo,
        kind=RecordKind.REVIEW_COMMENT,
        key=key,
        number=number,
        title=f"Review of #{number} requesting changes",
        body=review["body"],
        files=list(files),
        authors=[_login(review.get("user"))],
        created_at=parse_time(review.get("submitted_at")) or parse_time(review.get("created_at")),
        url=review.get("html_url"),
        labels=["changes_requested", "review"],
    )


def bug_from_rest(
    repo: str, issue: Mapping[str, Any], closers: Sequence[str] = (), links: Sequence[Link] = ()
) -> Record:
    """Build a bug record from an issue; `closers` are shas that closed it, `links` more fixed_by links."""
    number = int(issue["number"])
    labels = [
        str(issue.get("state") or "open"),
        *(
            label["name"] if isinstance(label, dict) else str(label)
            for label in issue.get("labels") or []
        ),
    ]
    if issue.get("state_reason") == "not_planned":
        labels.append("not_planned")
    return Record(
        id=record_id(repo, RecordKind.BUG, f"#{number}"),
        repo=repo,
        kind=RecordKind.BUG,
        key=f"#{number}",
        number=number,
        title=issue.get("title") or "",
        body=issue.get("body") or "",
        authors=[_login(issue.get("user"))],
        created_at=parse_time(issue["created_at"]),
        url=issue.get("html_url"),
        links=merge_links(
            [Link(kind=LinkKind.FIXED_BY, target=f"commit:{sha}") for sha in closers], list(links)
        ),
        labels=labels,
    )


def _login(user: Mapping[str, Any] | None) -> str:
    return str((user or {}).get("login") or "ghost")


def _label_names(item: Mapping[str, Any]) -> list[str]:
    return [
        label["name"] if isinstance(label, dict) else str(label)
        for label in item.get("labels") or []
    ]


# The API run


def index_github(
    store: Store,
    slug: str,
    *,
    token: str | None,
    checkpoints: Checkpoints,
    api_url: str = "https://api.github.com",
    bug_labels: Sequence[str] = DEFAULT_BUG_LABELS,
    repo_name: str | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
    backoff: float = 1.0,
) -> TrackerReport:
    """Fetch pull requests (with files and reviews) and bugs (with their timelines) updated since the last run.

    Issues are listed oldest update first with `since`, so the checkpoint can move after each
    page is stored: a run that fails keeps every page stored before the failure.
    """
    if not _SLUG.match(slug):
        raise TrackerError(
            f"--github {slug!r} is not owner/name; pass it like `--github pallets/click`"
        )
    repo = repo_name or repo_name_for(api_url, slug)
    source = f"github:{repo}"
    report = TrackerReport(source=source, repo=repo)
    checkpoint_key = tracker_checkpoint("github", repo, store.uri)
    since = checkpoints.get(checkpoint_key)

    auth = Auth("Authorization", f"Bearer {token}") if token else None
    options: dict[str, Any] = {"transport": transport, "backoff": backoff}
    if sleep is not None:
        options["sleep"] = sleep
    with TrackerClient(source, api_url, auth, token_help=TOKEN_HELP, **options) as client:
        try:
            client.get(f"repos/{slug}")
            params: dict[str, Any] = {
                "state": "all",
                "sort": "updated",
                "direction": "asc",
                "per_page": 100,
            }
            if since:
                params["since"] = since
            for page in client.pages(f"repos/{slug}/issues", params):
                records: list[Record] = []
                landings: dict[str, Landing] = {}
                try:
                    for item in page:
                        if "pull_request" in item:
                            records += _pull_request_records(client, slug, repo, item, landings)
                        elif is_bug(
                            _label_names(item), (item.get("type") or {}).get("name"), bug_labels
                        ):
                            records.append(
                                bug_from_rest(repo, item, links=_timeline_links(client, slug, item))
                            )
                except TrackerError:
                    # Keep the items of this page read before the failure; the checkpoint stays put.
                    write_records(store, repo, records, landings=landings)
                    report.count(records)
                    raise
                write_records(store, repo, records, landings=landings)
                report.count(records)
                if page:
                    checkpoints.set(checkpoint_key, page[-1]["updated_at"])
        finally:
            report.requests = client.requests
            if report.pull_requests or report.bugs:
                store.refresh_indexes()
    logger.info(
        "%s: %d pull requests, %d review comments, %d bugs",
        source,
        report.pull_requests,
        report.review_comments,
        report.bugs,
    )
    return report


def _pull_request_records(
    client: TrackerClient,
    slug: str,
    repo: str,
    item: Mapping[str, Any],
    landings: dict[str, Landing],
) -> list[Record]:
    number = int(item["number"])
    pull = client.get(f"repos/{slug}/pulls/{number}")
    files = [
        entry["filename"]
        for page in client.pages(f"repos/{slug}/pulls/{number}/files", {"per_page": 100})
        for entry in page
    ]
    record = pull_request_from_rest(repo, pull, files)
    landing = landing_from_rest(pull)
    if landing is not None:
        landings[record.key] = landing

    records = [record]
    states: dict[int, str] = {}
    for page in client.pages(f"repos/{slug}/pulls/{number}/reviews", {"per_page": 100}):
        for review in page:
            states[review["id"]] = review.get("state") or ""
            summary = review_from_rest(repo, number, review, files)
            if summary is not None:
                records.append(summary)
    for page in client.pages(f"repos/{slug}/pulls/{number}/comments", {"per_page": 100}):
        for comment in page:
            records.append(
                review_comment_from_rest(
                    repo, number, comment, states.get(comment.get("pull_request_review_id"))
                )
            )
    return records


def _timeline_links(client: TrackerClient, slug: str, issue: Mapping[str, Any]) -> list[Link]:
    """Read a bug's timeline, one request per 100 events, for its closing commit and cross-references."""
    events = [
        event
        for page in client.pages(
            f"repos/{slug}/issues/{issue['number']}/timeline", {"per_page": 100}
        )
        for event in page
    ]
    return timeline_links(slug, issue, events)
