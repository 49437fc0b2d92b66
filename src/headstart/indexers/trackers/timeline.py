"""Links a GitHub bug gains from its issue timeline: the commit that closed it, the pull requests
that cross-referenced it, and the commits whose messages mention it.

The timeline (`GET /repos/{owner}/{repo}/issues/{number}/timeline`) names a pull request that
mentions the issue anywhere in its body or comments, so it finds fixes whose description never
contains "fixes #N". A mention is not always a fix, so a merged pull request counts only if it
mentioned the issue before its merge, and a closed bug takes only the references made up to its
close: pull requests merged by then, and commits pushed by then. An open bug takes every
reference but abandoned pull requests (closed without a merge), as the work on it so far.
Briefs use those links for the files the bug touches and do not call them fixes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from headstart.indexers.trackers.links import merge_links
from headstart.records import Link, LinkKind

# Events that carry the sha of a commit naming the issue: `closed` when a commit closed it,
# `referenced` when a pushed commit mentions it, `connected` when GitHub sets one.
COMMIT_EVENTS = frozenset({"closed", "referenced", "connected"})

# GitHub closes an issue a moment after the merge that closes it, so allow for that gap.
CLOSE_SLACK = timedelta(minutes=1)

_REPOSITORY_URL = re.compile(r"/repos/(?P<slug>[^/]+/[^/]+?)(?:/|$)")


def timeline_links(
    slug: str, issue: Mapping[str, Any], events: Iterable[Mapping[str, Any]]
) -> list[Link]:
    """Return fixed_by links to the commits and pull requests of `slug` that the timeline ties to `issue`.

    References from other repositories are skipped, since their keys would name records of
    this one. The closing commit comes first, then the others in timeline order.
    """
    closed = issue.get("state") == "closed"
    closed_at = _time(issue.get("closed_at")) if closed else None
    cutoff = closed_at + CLOSE_SLACK if closed_at else None

    closers: list[Link] = []
    others: list[Link] = []
    for event in events:
        kind = event.get("event")
        if kind in COMMIT_EVENTS and event.get("commit_id"):
            if not _same_repository(slug, event.get("commit_url")):
                continue
            link = Link(kind=LinkKind.FIXED_BY, target=f"commit:{event['commit_id']}")
            if kind == "closed":
                closers.append(link)
            elif _before(_time(event.get("created_at")), cutoff):
                others.append(link)
        elif kind == "cross-referenced":
            link = _pull_request_link(slug, event, closed, cutoff)
            if link is not None:
                others.append(link)
    return merge_links(closers, others)


def _pull_request_link(
    slug: str, event: Mapping[str, Any], closed: bool, cutoff: datetime | None
) -> Link | None:
    """Link the pull request a `cross-referenced` event comes from, if it counts for this bug."""
    source = (event.get("source") or {}).get("issue") or {}
    pull = source.get("pull_request")
    if not isinstance(pull, Mapping) or "number" not in source:
        return None  # an issue that mentions this one, not a pull request

    repository = (source.get("repository") or {}).get("full_name") or source.get("repository_url")
    if not _same_repository(slug, repository):
        return None

    merged_at = _time(pull.get("merged_at"))
    if merged_at is not None and not _before(
        _time(event.get("created_at")), merged_at + CLOSE_SLACK
    ):
        # Mentioned after its merge ("this change caused #7"): more likely a cause than a fix.
        return None
    if closed:
        if merged_at is None or not _before(merged_at, cutoff):
            return None
    elif source.get("state") == "closed" and merged_at is None:
        return None
    return Link(kind=LinkKind.FIXED_BY, target=f"pull_request:#{int(source['number'])}")


def _same_repository(slug: str, named: object) -> bool:
    """Tell whether `named` (an `owner/name` or an API URL) is `slug`; a missing name counts as the same."""
    if not named:
        return True
    text = str(named)
    match = _REPOSITORY_URL.search(text)
    found = match["slug"] if match else text
    return found.lower() == slug.lower()


def _time(value: object) -> datetime | None:
    # The same parsing as github.parse_time, which this module cannot import: github imports it.
    return datetime.fromisoformat(str(value)) if value else None


def _before(moment: datetime | None, cutoff: datetime | None) -> bool:
    return cutoff is None or moment is None or moment <= cutoff
