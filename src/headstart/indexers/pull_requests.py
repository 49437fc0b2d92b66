"""Pull-request records derived from the commits that landed them."""

from __future__ import annotations

from headstart.indexers.messages import PullRequestMarker, find_links, find_pull_request
from headstart.records import Link, LinkKind, Record, RecordKind, record_id


def web_url(repo: str, kind: str, key: str) -> str | None:
    """Link a commit or pull request to its page when the repository lives on a known forge."""
    host, _, project = repo.partition("/")
    if host == "github.com" and project:
        if kind == "commit":
            return f"https://github.com/{project}/commit/{key}"
        return f"https://github.com/{project}/pull/{key.lstrip('#')}"
    if host.startswith("gitlab") and project:
        if kind == "commit":
            return f"https://{host}/{project}/-/commit/{key}"
        return f"https://{host}/{project}/-/merge_requests/{key.rpartition('!')[2]}"
    return None


def pull_request_record(commit: Record) -> Record | None:
    """Build the record of the pull request a commit landed, or None when it names none."""
    marker: PullRequestMarker | None = find_pull_request(f"{commit.title}\n\n{commit.body}")
    if marker is None:
        return None

    links = [Link(kind=LinkKind.MERGED_AS, target=commit.target)]
    links += [link for link in find_links(marker.body) if link.kind == LinkKind.FIXES]
    return Record(
        id=record_id(commit.repo, RecordKind.PULL_REQUEST, marker.key),
        repo=commit.repo,
        kind=RecordKind.PULL_REQUEST,
        key=marker.key,
        number=marker.number,
        title=marker.title,
        body=marker.body,
        files=commit.files,
        authors=commit.authors,
        created_at=commit.created_at,
        url=web_url(commit.repo, "pull_request", marker.key),
        links=links,
        changes=commit.changes,
        labels=[marker.style],
    )
