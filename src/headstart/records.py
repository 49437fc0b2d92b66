"""The vocabulary every package shares: records of history and the links between them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from pathlib import PurePosixPath

from pydantic import BaseModel, Field


class RecordKind(StrEnum):
    COMMIT = "commit"
    PULL_REQUEST = "pull_request"
    REVIEW_COMMENT = "review_comment"
    BUG = "bug"
    STANDARD = "standard"


class LinkKind(StrEnum):
    """Relations between records; each stored one has an inverse computed on read."""

    FIXES = "fixes"  # closes or fixes an issue ("fixes #12")
    FIXED_BY = "fixed_by"
    FIXES_COMMIT = "fixes_commit"  # a "Fixes: <sha>" trailer
    FIX_OF_COMMIT_BY = "commit_fixed_by"
    REVERTS = "reverts"  # "This reverts commit <sha>"
    REVERTED_BY = "reverted_by"
    MERGED_AS = "merged_as"  # a pull request and the commit that landed it
    LANDS = "lands"


INVERSE_LINKS: dict[LinkKind, LinkKind] = {
    LinkKind.FIXES: LinkKind.FIXED_BY,
    LinkKind.FIXES_COMMIT: LinkKind.FIX_OF_COMMIT_BY,
    LinkKind.REVERTS: LinkKind.REVERTED_BY,
    LinkKind.MERGED_AS: LinkKind.LANDS,
}
INVERSE_LINKS.update({inverse: kind for kind, inverse in list(INVERSE_LINKS.items())})


class Link(BaseModel):
    """A relation from the record that carries it to a target named by kind and key.

    Targets are written `<kind>:<key>`: `commit:<sha>`, `issue:#12`, `issue:org/repo#3`,
    `pull_request:#7`, `pull_request:group/repo!7`.
    """

    kind: LinkKind
    target: str


class FileChange(BaseModel):
    """One file in a commit's diff against its first parent."""

    path: str
    status: str = Field(description="A, M, D, R, C or T, as git prints them.")
    added: int | None = Field(default=None, description="Added lines; None for a binary file.")
    removed: int | None = Field(default=None, description="Removed lines; None for a binary file.")
    old_path: str | None = None
    binary: bool = False
    functions: list[str] = Field(
        default_factory=list, description="Test functions the diff adds or changes, for test files."
    )


class Record(BaseModel):
    """A unit of history: a commit, pull request, review comment, bug or standard."""

    id: str
    repo: str
    kind: RecordKind
    key: str = Field(description="Natural key: a commit sha, '#12' for a pull request or issue.")
    title: str
    body: str = ""
    files: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    created_at: datetime
    url: str | None = None
    links: list[Link] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    parents: list[str] = Field(default_factory=list)
    changes: list[FileChange] = Field(default_factory=list)
    number: int | None = None

    @property
    def target(self) -> str:
        """How links elsewhere name this record."""
        return f"{self.kind.value}:{self.key}"


def record_id(repo: str, kind: RecordKind | str, key: str) -> str:
    """Return a stable id for a record, so re-indexing the same input writes the same rows."""
    digest = hashlib.sha1(f"{repo}\0{kind}\0{key}".encode()).hexdigest()[:20]
    return f"{RecordKind(kind).value}-{digest}"


class Freshness(BaseModel):
    """Whether the index still describes the repository's current head."""

    indexed_head: str | None = None
    current_head: str | None = None
    stale: bool = False
    message: str | None = None
    behind: int = 0
    rewritten: bool = False


# "Fix …", "fix(parser): …", "area: fix …", or a subject naming a bug, regression or crash; a
# subject that only mentions "fix" in passing ("keep fix and revert counts") is not a fix.
_FIX_SUBJECT = re.compile(
    r"^(?:[\w\s()/.,-]{0,40}:\s*)?(?:fix(?:e[sd])?|bug-?fix|hotfix)\b|\b(?:bug|regression|crash(?:es)?)\b",
    re.IGNORECASE,
)


# Fixes of wording, style, type hints or docs repair no behaviour, and dependency bumps and
# release commits change no code of the repository, so none is a bug fix, even when it closes an
# issue: "fix typo", "Fix lint", "fix typing", "docs: fix broken link", "fix(deps): update qs",
# "fix: bump qs", "deps: cookie@0.6.0", "5.0.0".
_NOT_A_BUG_FIX = re.compile(
    r"^(?:docs?|style|chore|ci|build|deps?)(?:\([^)]*\))?!?:"
    r"|^\w+\s*\([^)]*deps\b[^)]*\)"
    r"|^(?:release\s+)?v?\d+(?:\.\d+)+\S*$"
    r"|\bbump(?:s|ed)?\b"
    r"|\b(?:update|upgrade)s?\s+(?:the\s+)?(?:dev\s+)?(?:deps|dependenc(?:y|ies))\b"
    r"|^typos?\b"
    r"|\bfix(?:e[sd])?\s+(?:(?:a|the|some|several|minor|small|more|all|broken|dead)\s+)*"
    r"(?:typos?|spelling|grammar|wording|whitespace|formatting|format|lint(?:ing)?|links?"
    r"|comments?|docs?|documentation|docstrings?|readme|changelog|indentation|style|typing"
    r"|type hints?|annotations?|mypy|pyright|flake8|ruff|pre-commit)\b",
    re.IGNORECASE,
)


def is_fix_commit(title: str, link_kinds: Iterable[str]) -> bool:
    """Tell whether a commit fixed a bug: it links an issue or commit it fixes, or its subject names a fix.

    A fix of wording, style, type hints or docs, or a dependency bump (`_NOT_A_BUG_FIX`), is not
    one, whatever it links.
    """
    if _NOT_A_BUG_FIX.search(title):
        return False
    kinds = set(link_kinds)
    if kinds & {LinkKind.FIXES.value, LinkKind.FIXES_COMMIT.value}:
        return True
    return bool(_FIX_SUBJECT.search(title)) and not title.lower().startswith("revert")


def is_revert_commit(link_kinds: Iterable[str]) -> bool:
    return LinkKind.REVERTS.value in set(link_kinds)


_TEST_PATH = re.compile(
    r"(^|/)(tests?|spec|__tests__)/|(^|/)test_[^/]+\.py$|_test\.(py|go|rb|exs?)$|"
    r"\.(test|spec)\.[jt]sx?$|Tests?\.(java|kt|cs|swift)$|(^|/)t/.+\.t$"
)


def is_test_file(path: str) -> bool:
    """Tell whether a path names a test file, by the conventions of common languages and runners."""
    return bool(_TEST_PATH.search(path))


# Changelogs, release notes and news fragments: most changes touch them, so their history tells
# little about any one change.
_CHANGELOG_STEMS = {
    "changes", "changelog", "history", "news", "releasenotes", "release-notes", "release_notes",
    "whatsnew", "whats-new", "whats_new",
}
_CHANGELOG_FOLDERS = {
    "changelog.d", "changes", "changelog", "changelogs", "newsfragments", "news", ".changeset",
    "release-notes", "releasenotes",
}


def is_changelog(path: str) -> bool:
    """Tell whether a path is a changelog, release notes or a news fragment."""
    parts = PurePosixPath(path.lower()).parts
    stem = parts[-1].split(".", 1)[0]
    return stem in _CHANGELOG_STEMS or any(part in _CHANGELOG_FOLDERS for part in parts[:-1])
