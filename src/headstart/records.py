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
# "fix: bump qs", "deps: cookie@0.6.0", "5.0.0". Nor are linter and review rounds: "fix: New
# clippy warnings", "Fixes for tmccombs review comments.", "Fix compiler warnings".
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
    r"|type hints?|annotations?|mypy|pyright|flake8|ruff|pre-commit)\b"
    r"|\bclippy\b"
    r"|\b(?:lint(?:er)?|compiler|rustc|gcc|clang|eslint|pylint)\s+warnings?\b"
    r"|\b(?:review|pr)\s+(?:comments?|feedback|remarks|suggestions|notes)\b|\bcode\s+review\b",
    re.IGNORECASE,
)

# A subject that starts with a feature verb adds something: "Add hyperlink support", "cli: allow
# empty names", "feat(router): …". Closing an issue does not make it a fix, because a feature
# request is an issue too. Only a subject naming a fix, bug, crash or regression does.
_FEATURE_SUBJECT = re.compile(
    r"^(?:feat(?:ure)?(?:\([^)]*\))?!?:"
    r"|(?:[\w\s()/.,-]{0,40}:\s*)?(?:add(?:s|ed|ing)?|implement(?:s|ed|ing)?|support(?:s|ed|ing)?"
    r"|introduc(?:e[sd]?|ing)|allow(?:s|ed|ing)?|enabl(?:e[sd]?|ing)|new)\b)",
    re.IGNORECASE,
)
# GitHub's closing keywords and the issue they close ("Fixes #12", "closes owner/repo#3").
_CLOSING = re.compile(
    r"\b(?P<keyword>close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b:?\s+(?:[\w.\-]+/[\w.\-]+)?#\d+",
    re.IGNORECASE,
)
# "Closes #12" and "Resolves #12" close feature requests as often as bugs, so they make a fix only
# when the subject names something broken or kept from breaking ("Do not hang on …", "Restore …").
_NAMES_FAULT = re.compile(
    r"\b(?:fix(?:e[sd]|ing)?|bug-?fix(?:es)?|hotfix|bugs?|buggy|crash(?:es|ed|ing)?|errors?"
    r"|exceptions?|regress(?:ions?|ed)?|broken|wrong(?:ly)?|incorrect(?:ly)?|fail(?:s|ed|ing|ures?)?"
    r"|deadlocks?|hang(?:s|ing)?|leak(?:s|ing)?|race|panic(?:s|ked)?|segfaults?|corrupt(?:s|ed|ion)?"
    r"|do(?:es)?\s+not|don'?t|doesn'?t|never|prevent(?:s|ed|ing)?|avoid(?:s|ed|ing)?|restor(?:e[sd]?|ing))\b",
    re.IGNORECASE,
)


def is_fix_commit(title: str, link_kinds: Iterable[str], body: str | None = None) -> bool:
    """Tell whether a commit fixed a bug, from its subject, the links of its message and its body.

    It is one when its subject names a fix (`_FIX_SUBJECT`), when it carries a "Fixes: <sha>"
    trailer, or when it fixes an issue: "fixes #12" in the subject or body, or "closes #12" or
    "resolves #12" with a subject naming a fault (`_NAMES_FAULT`). A subject starting with a
    feature verb (`_FEATURE_SUBJECT`) makes it no fix, whatever it closes, unless the subject also
    names a fix, bug, crash or regression. A fix of wording, style, type hints or docs, a linter
    or review round, or a dependency bump (`_NOT_A_BUG_FIX`), is not one, whatever it links.

    Without the body (`None`, as when indexing), an issue link counts as a fix, because the
    keyword that made it is unknown. Callers that have the body pass it.
    """
    if _NOT_A_BUG_FIX.search(title):
        return False
    subject = _CLOSING.sub("", title)
    if _FEATURE_SUBJECT.search(title):
        return bool(_FIX_SUBJECT.search(subject)) and not title.lower().startswith("revert")
    kinds = set(link_kinds)
    if LinkKind.FIXES_COMMIT.value in kinds:
        return True
    keywords = {match["keyword"].lower()[:3] for match in _CLOSING.finditer(f"{title}\n{body or ''}")}
    if "fix" in keywords or (LinkKind.FIXES.value in kinds and body is None):
        return True
    if (keywords or LinkKind.FIXES.value in kinds) and _NAMES_FAULT.search(subject):
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
# little about any one change. A changelog is a text file with a changelog name (CHANGES,
# HISTORY.md, NEWS.rst, whatsnew.rst) or a file in a folder of news fragments. Code and data
# files are not changelogs, whatever their name or folder (`context/history.py`,
# `lib/history.js`, `news/models.py`).
_CHANGELOG_STEMS = {
    "changes", "changelog", "history", "news", "releasenotes", "release-notes", "release_notes",
    "whatsnew", "whats-new", "whats_new",
}
_TEXT_SUFFIXES = {
    "", ".md", ".markdown", ".mdx", ".rst", ".txt", ".adoc", ".asciidoc", ".org", ".rdoc", ".textile",
}
# Folders that hold nothing but fragments, whatever their suffix ("changelog.d/123.bugfix").
_FRAGMENT_FOLDERS = {"changelog.d", "changes.d", "news.d", "newsfragments", ".changeset"}
# Folders whose name may also be an app or a package ("news/models.py"): only text files and
# towncrier-style fragments ("changes/1234.bugfix", "news/5.feature.md") count there.
_NOTES_FOLDERS = {
    "changes", "changelog", "changelogs", "news", "release-notes", "releasenotes", "release_notes",
    "whatsnew", "whats-new", "whats_new",
}
_FRAGMENT_TYPES = {
    ".feature", ".features", ".bugfix", ".bugfixes", ".bug", ".fix", ".fixed", ".doc", ".docs",
    ".removal", ".removed", ".deprecation", ".deprecated", ".misc", ".trivial", ".vendor",
    ".process", ".packaging", ".added", ".changed", ".security", ".breaking", ".internal",
    ".improvement", ".performance", ".contrib",
}


def is_changelog(path: str) -> bool:
    """Tell whether a path is a changelog, release notes or a news fragment."""
    parts = PurePosixPath(path.lower()).parts
    if not parts:
        return False
    name, folders = parts[-1], parts[:-1]
    suffix = PurePosixPath(name).suffix
    if name.split(".", 1)[0] in _CHANGELOG_STEMS and suffix in _TEXT_SUFFIXES:
        return True
    if any(folder in _FRAGMENT_FOLDERS for folder in folders):
        return True
    fragment = suffix in _FRAGMENT_TYPES or (suffix in _TEXT_SUFFIXES and suffix != "")
    return fragment and any(folder in _NOTES_FOLDERS for folder in folders)
