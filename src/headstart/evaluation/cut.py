"""Choosing the cut point and turning the first-parent changes after it into tasks."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pygit2
from pydantic import BaseModel, Field

from headstart.authors import is_bot
from headstart.errors import InputError
from headstart.indexers.commits import commit_time, diff_changes
from headstart.indexers.messages import decode, find_links, find_pull_request, split_message
from headstart.indexers.pipeline import tracked_files
from headstart.records import is_changelog

logger = logging.getLogger("headstart.evaluation")

DEFAULT_CUT_FRACTION = 0.9

# A pull request merged from a bot's branch, even when a person merged it.
_BOT_BRANCH = re.compile(r"^Merge pull request #\d+ from [\w.\-]+/(?:dependabot|renovate|pre-commit-ci)", re.IGNORECASE)
# A subject tagged by the bot that opened the pull request, squash-merged by a person.
_BOT_SUBJECT = re.compile(r"^\[(?:pre-commit\.ci|bot|dependabot|renovate)\]", re.IGNORECASE)
# A version, with a pre-release or build suffix: 2.0.1, v5.0.0-beta.3, 1.0.0-rc1.
_VERSION = r"v?\d+(?:\.\d+)+(?:[-+][0-9A-Za-z][0-9A-Za-z.]*)?"
# An optional conventional-commit type comes first: "chore: Bump to 10.4.2", "chore(release): 2.0".
_VERSION_BUMP = re.compile(
    r"^(?:\w+(?:\([^)]*\))?!?:\s*)?(?:"
    r"(?:bump|update|set|change|increase)\s+(?:the\s+)?(?:dev\s+|package\s+)?version\b"
    rf"|bump(?:ed)?\s+to\s+{_VERSION}"
    rf"|(?:release|prepare(?:\s+for)?(?:\s+release)?|start|version|tag)\s+(?:version\s+)?{_VERSION}"
    # "Fix dev version 8.4.1": the version number is what was fixed.
    rf"|fix\s+(?:the\s+)?(?:dev\s+)?version\s+(?:to\s+)?{_VERSION}"
    rf"|{_VERSION}(?:\s+release)?\s*$"
    # A release of one package of several, named before its version: "globset-0.4.17".
    rf"|[A-Za-z][\w.]*(?:-[A-Za-z][\w.]*)*-{_VERSION}\s*$"
    r"|bump\s+\S+\s+from\s+\S+\s+to\s+\S+"
    r")",
    re.IGNORECASE,
)
_REVERT_SUBJECT = re.compile(r"^revert\b", re.IGNORECASE)
# One long-lived branch merged into another through a pull request: "Merge stable into main (#3479)".
# The target must read as a branch, so "Merge parser into lexer" stays a task.
_BRANCH = r"(?:main|master|develop|dev|stable|trunk|next|maint|release[\w./\-]*|v?\d+(?:\.\d+)*\.x)"
_BRANCH_SYNC = re.compile(
    rf"^merge\s+(?:branch\s+)?[`'\"]?[\w./\-]+[`'\"]?\s+into\s+[`'\"]?{_BRANCH}[`'\"]?(?![\w\-])", re.IGNORECASE
)
_REVERTS_COMMIT = re.compile(r"This reverts commit [0-9a-f]{7,40}", re.IGNORECASE)

# Files that record the change itself: naming them in the expected answer would reward a ranker
# for guessing the release notes, which every change touches.

class Task(BaseModel):
    """A later change replayed as a task: its text and the files it changed."""

    sha: str
    subject: str
    text: str = Field(description="The query every ranker gets: a pull request's title (and body), or a commit subject.")
    source: str = Field(description="merge, squash or gitlab for a pull request, commit otherwise.")
    pull_request: str | None = Field(default=None, description="'#12' when the change landed a pull request.")
    created_at: datetime
    author: str
    expected: list[str] = Field(description="Changed files that existed at the cut, changelogs left out.")
    changelog_files: list[str] = Field(default_factory=list, description="Changed changelog-type files, left out.")
    new_files: list[str] = Field(default_factory=list, description="Changed files absent at the cut, left out.")
    references: list[str] = Field(
        default_factory=list, description="Issues, pull requests and commits its message points to ('issue:#3')."
    )


class Skipped(BaseModel):
    """A later change that is not a task, and why."""

    sha: str
    subject: str
    reason: str


@dataclass(frozen=True)
class CutPoint:
    """The last commit the evaluation indexes, and the first-parent commits after it, oldest first."""

    commit: pygit2.Commit
    head: pygit2.Commit
    later: list[pygit2.Commit]
    position: int  # first-parent commits up to and including the cut
    total: int  # first-parent commits up to and including the head

    @property
    def sha(self) -> str:
        return str(self.commit.id)

    @property
    def time(self) -> datetime:
        return commit_time(self.commit)


def first_parent_chain(head: pygit2.Commit) -> list[pygit2.Commit]:
    """List the first-parent history of `head`, oldest first."""
    chain = [head]
    while chain[-1].parents:
        chain.append(chain[-1].parents[0])
    chain.reverse()
    return chain


def choose_cut(
    repo: pygit2.Repository,
    head: pygit2.Commit,
    *,
    cut_rev: str | None = None,
    cut_date: datetime | None = None,
    cut_fraction: float | None = None,
) -> CutPoint:
    """Pick the cut by revision, by date, or by a fraction of the first-parent history.

    At most one of the three may be given; with none, the cut falls at DEFAULT_CUT_FRACTION.
    Raises InputError for an unknown revision, a date outside the history, or a cut that
    leaves no later change to replay.
    """
    given = [name for name, value in (("--cut-rev", cut_rev), ("--cut-date", cut_date), ("--cut-fraction", cut_fraction)) if value is not None]
    if len(given) > 1:
        raise InputError(f"give one of --cut-rev, --cut-date and --cut-fraction, not {' and '.join(given)}")
    chain = first_parent_chain(head)

    if cut_rev is not None:
        try:
            cut = repo.revparse_single(cut_rev).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise InputError(
                f"--cut-rev {cut_rev!r} does not name a commit; use a branch, tag or sha that `git rev-parse` accepts"
            ) from exc
        if cut.id != head.id and not repo.descendant_of(head.id, cut.id):
            raise InputError(f"--cut-rev {cut_rev!r} is not an ancestor of HEAD; pick a commit HEAD contains")
        # The first-parent commits that do not contain the cut yet come before it.
        position = _position_of(repo, chain, cut)
    elif cut_date is not None:
        when = cut_date if cut_date.tzinfo else cut_date.replace(tzinfo=UTC)
        position = sum(1 for commit in chain if commit_time(commit) <= when)
        if position == 0:
            raise InputError(f"--cut-date {when.isoformat()!r} is before the first commit; pick a later date")
        cut = chain[position - 1]
    else:
        fraction = DEFAULT_CUT_FRACTION if cut_fraction is None else cut_fraction
        if not 0 < fraction < 1:
            raise InputError(f"--cut-fraction {fraction!r} must be above 0 and below 1; use for example 0.9")
        position = max(1, int(len(chain) * fraction))
        cut = chain[position - 1]

    later = chain[position:]
    if not later:
        raise InputError(f"the cut {str(cut.id)[:12]} is HEAD, so no later change is left to replay; cut earlier")
    return CutPoint(commit=cut, head=head, later=later, position=position, total=len(chain))


def _position_of(repo: pygit2.Repository, chain: Sequence[pygit2.Commit], cut: pygit2.Commit) -> int:
    """Count the first-parent commits up to the cut, or, for a cut on a side branch, those without it."""
    for index, commit in enumerate(chain):
        if commit.id == cut.id:
            return index + 1
    position = 0
    for index, commit in enumerate(chain):
        if commit.id == cut.id or not repo.descendant_of(commit.id, cut.id):
            position = index + 1
        else:
            break
    return position


def parse_cut_date(text: str) -> datetime:
    """Read an ISO 8601 date or date and time; one without a zone is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"--cut-date {text!r} is not an ISO 8601 date; use for example 2024-01-31") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def skip_reason(subject: str, message: str, author: str, files: int, max_files: int) -> str | None:
    """Say why a change is no task (bot, version bump, revert, too many files), or None."""
    if is_bot(author) or _BOT_BRANCH.match(subject) or _BOT_SUBJECT.match(subject):
        return "bot author"
    if _VERSION_BUMP.match(subject):
        return "version bump"
    if _REVERT_SUBJECT.match(subject) or _REVERTS_COMMIT.search(message):
        return "revert"
    if _BRANCH_SYNC.match(subject):
        return "merge of one branch into another"
    if files > max_files:
        return f"changes {files} files (more than {max_files})"
    return None


def list_tasks(
    repo: pygit2.Repository,
    cut: CutPoint,
    *,
    max_files: int,
    tracker_text: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[list[Task], list[Skipped]]:
    """Turn each change after the cut into a task, or into a Skipped entry with the reason.

    `tracker_text` maps a pull request key ('#12') to its title and body from a tracker. When a
    change landed one of those pull requests, its title and body are the task text.
    """
    at_cut = set(tracked_files(cut.commit))
    tracker_text = tracker_text or {}
    tasks: list[Task] = []
    skipped: list[Skipped] = []

    for commit in cut.later:
        sha = str(commit.id)
        message = decode(commit.raw_message, commit.message_encoding)
        subject, _ = split_message(message)
        author = f"{decode(commit.author.raw_name, None)} <{decode(commit.author.raw_email, None)}>"
        marker = find_pull_request(message)
        if len(commit.parents) > 1 and marker is None:
            skipped.append(Skipped(sha=sha, subject=subject, reason="merge of a branch, not of a pull request"))
            continue

        title = marker.title if marker else subject
        changed = sorted({change.path for change in diff_changes(repo, commit)})
        # The subject first, because a merge's subject names the branch, and a bot's branch marks its pull request.
        reason = skip_reason(subject, message, author, len(changed), max_files)
        listed_subject = subject
        if reason is None and title != subject:
            reason = skip_reason(title, message, author, len(changed), max_files)
            # The title is what made it no task: "Merge pull request #1864 from …" would hide why.
            listed_subject = title
        if reason is not None:
            skipped.append(Skipped(sha=sha, subject=listed_subject, reason=reason))
            continue

        changelog = [path for path in changed if is_changelog(path)]
        new = [path for path in changed if path not in at_cut and not is_changelog(path)]
        expected = [path for path in changed if path in at_cut and not is_changelog(path)]
        if not expected:
            if changelog and not new:
                reason = "changes only changelog files"
            elif changelog:
                reason = "changes only changelogs and files created after the cut"
            else:
                reason = "changes only files created after the cut"
            skipped.append(Skipped(sha=sha, subject=subject, reason=reason))
            continue

        text = title
        references = [link.target for link in find_links(message)]
        if marker is not None and marker.key in tracker_text:
            tracker_title, tracker_body = tracker_text[marker.key]
            text = f"{tracker_title}\n\n{tracker_body}".strip()
            references += [link.target for link in find_links(tracker_body) if link.target not in references]
        if not text.strip():
            skipped.append(Skipped(sha=sha, subject=subject, reason="empty task text"))
            continue

        tasks.append(
            Task(
                sha=sha,
                subject=subject,
                text=text,
                source=marker.style if marker else "commit",
                pull_request=marker.key if marker else None,
                created_at=commit_time(commit),
                author=author,
                expected=expected,
                changelog_files=changelog,
                new_files=new,
                references=references,
            )
        )
    logger.info("%d later changes: %d tasks, %d skipped", len(cut.later), len(tasks), len(skipped))
    return tasks, skipped


def spread(tasks: Sequence[Task], limit: int) -> list[Task]:
    """Keep at most `limit` tasks, spaced evenly over the list so every period is sampled."""
    if limit <= 0:
        raise InputError(f"--max-tasks {limit!r} must be at least 1")
    if len(tasks) <= limit:
        return list(tasks)
    step = len(tasks) / limit
    return [tasks[int(index * step)] for index in range(limit)]
