"""Reading commit messages: decoding, pull-request markers, fix references, reverts."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from headstart.records import Link, LinkKind

_GITHUB_MERGE = re.compile(r"^Merge pull request #(?P<number>\d+) from (?P<branch>\S+)")
_SQUASH_SUFFIX = re.compile(r"\(#(?P<number>\d+)\)\s*$")
_GITLAB_MERGE_REQUEST = re.compile(
    r"^See merge request (?P<project>[\w.\-/]+)!(?P<number>\d+)\s*$", re.MULTILINE
)
_GITLAB_MERGE_SUBJECT = re.compile(r"^Merge branch '[^']+' into '[^']+'")

# GitHub's closing keywords, with an optional owner/repo and the issue number.
_CLOSING = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b:?\s+"
    r"(?P<refs>(?:(?:[\w.\-]+/[\w.\-]+)?#\d+(?:\s*(?:,|and)\s*)?)+)",
    re.IGNORECASE,
)
_ISSUE_REF = re.compile(r"(?P<repo>[\w.\-]+/[\w.\-]+)?#(?P<number>\d+)")
_FIXES_TRAILER = re.compile(r"^Fixes:\s*(?P<sha>[0-9a-f]{7,40})\b", re.IGNORECASE | re.MULTILINE)
_REVERTS = re.compile(r"This reverts commit (?P<sha>[0-9a-f]{7,40})", re.IGNORECASE)


@dataclass(frozen=True)
class PullRequestMarker:
    """A pull or merge request named by a commit that landed it."""

    key: str  # "#12" on GitHub, "group/project!12" on GitLab
    number: int
    title: str
    body: str
    style: str  # "merge", "squash" or "gitlab"


def decode(raw: bytes, encoding: str | None) -> str:
    """Decode commit text by its `encoding` header, replacing bytes that do not decode.

    An unknown or non-text encoding name (git copies the header verbatim) falls back to UTF-8.
    """
    name = encoding.strip() if encoding else "utf-8"
    try:
        # Codecs such as "base64" or "rot13" exist but do not turn bytes into text.
        if not codecs.lookup(name)._is_text_encoding:
            name = "utf-8"
    except LookupError:
        name = "utf-8"
    return raw.decode(name, errors="replace")


def split_message(message: str) -> tuple[str, str]:
    """Split a commit message into its subject line and the rest."""
    subject, _, body = message.strip().partition("\n")
    return subject.strip(), body.strip()


def find_pull_request(message: str) -> PullRequestMarker | None:
    """Return the pull request a commit message says it landed, if any."""
    subject, body = split_message(message)

    merge = _GITHUB_MERGE.match(subject)
    if merge:
        title, _, rest = body.partition("\n")
        return PullRequestMarker(
            key=f"#{merge['number']}",
            number=int(merge["number"]),
            title=title.strip() or subject,
            body=rest.strip(),
            style="merge",
        )

    gitlab = _GITLAB_MERGE_REQUEST.search(message)
    if gitlab:
        title, body_text = subject, body
        if _GITLAB_MERGE_SUBJECT.match(subject) and body:
            # GitLab writes the merge request's title as the first paragraph of the body.
            title, _, body_text = body.partition("\n")
        body_text = _GITLAB_MERGE_REQUEST.sub("", body_text).strip()
        return PullRequestMarker(
            key=f"{gitlab['project']}!{gitlab['number']}",
            number=int(gitlab["number"]),
            title=title.strip(),
            body=body_text,
            style="gitlab",
        )

    squash = _SQUASH_SUFFIX.search(subject)
    if squash:
        return PullRequestMarker(
            key=f"#{squash['number']}",
            number=int(squash["number"]),
            title=subject[: squash.start()].strip(),
            body=body,
            style="squash",
        )
    return None


def find_links(message: str) -> list[Link]:
    """Return the issues a message closes, the commits it fixes and the commit it reverts."""
    links: list[Link] = []
    seen: set[tuple[LinkKind, str]] = set()

    def add(kind: LinkKind, target: str) -> None:
        if (kind, target) not in seen:
            seen.add((kind, target))
            links.append(Link(kind=kind, target=target))

    for closing in _CLOSING.finditer(message):
        for ref in _ISSUE_REF.finditer(closing["refs"]):
            repo = f"{ref['repo']}" if ref["repo"] else ""
            add(LinkKind.FIXES, f"issue:{repo}#{ref['number']}")
    for trailer in _FIXES_TRAILER.finditer(message):
        add(LinkKind.FIXES_COMMIT, f"commit:{trailer['sha'].lower()}")
    for revert in _REVERTS.finditer(message):
        add(LinkKind.REVERTS, f"commit:{revert['sha'].lower()}")
    return links
