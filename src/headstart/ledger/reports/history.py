"""What a session produced in git: its commits, their pull requests, merges, reverts and re-fixes.

Read with pygit2 from the repository on this machine, because only git records which commits sit
on the session's branch (the store keeps the indexed branch only). A commit is the session's
when it is on the session's branch (or, without one, on the default branch), was committed
between the session's start and `COMMIT_GRACE` after its end, and, when the engineer's e-mail is
known, was authored by them.

Merged means reachable from the default branch (origin's HEAD, else main, else master), or
landed there under another sha (see `landing`): squashed into one commit whose change equals the
branch's, or rebased as commits with the same changes. The pull request is read from the merge
commit that brought the commit in ("Merge pull request #12 …", "See merge request g/p!3") or
from a "(#12)" suffix on the commit itself or on the commit it landed as.

NOTE: each session walks the default branch back to its own commits, so analyzing old sessions
of a busy repository costs time in proportion to the commits since.
NOTE: a squash-merged branch that was then deleted here and on origin leaves no ref to find the
session's commits by, so such a session reads as having no commit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import pygit2
from pygit2.enums import DeltaStatus, SortMode

from headstart.indexers.messages import find_pull_request
from headstart.ledger.reports.landing import Landing, find_landings
from headstart.records import is_fix_commit

logger = logging.getLogger("headstart.ledger.reports.history")

# Agents often commit just after the last model request that the ledger saw.
COMMIT_GRACE = timedelta(hours=1)
_REVERTS = re.compile(r"This reverts commit (?P<sha>[0-9a-f]{7,40})", re.IGNORECASE)


@dataclass(frozen=True)
class CommitFacts:
    sha: str
    subject: str
    files: tuple[str, ...]
    renamed: int
    time: datetime


@dataclass
class Produced:
    """The commits of a session and what became of them."""

    commits: list[CommitFacts] = field(default_factory=list)
    merged: set[str] = field(default_factory=set)
    pull_requests: dict[str, str] = field(default_factory=dict)  # sha → PR key
    reverted_by: dict[str, str] = field(default_factory=dict)  # sha → reverting sha
    refixed_by: dict[str, list[str]] = field(default_factory=dict)  # sha → fix shas
    landed: dict[str, Landing] = field(default_factory=dict)  # sha → its copy on main

    @property
    def files(self) -> list[str]:
        return sorted({path for commit in self.commits for path in commit.files})

    @property
    def renamed_share(self) -> float:
        changed = sum(len(commit.files) for commit in self.commits)
        return sum(commit.renamed for commit in self.commits) / changed if changed else 0.0


def _time(commit: pygit2.Commit) -> datetime:
    return datetime.fromtimestamp(commit.commit_time, tz=UTC)


@lru_cache(maxsize=256)
def open_repository(path: str) -> pygit2.Repository | None:
    """Open the repository containing `path`, or None when there is none on this machine."""
    try:
        found = pygit2.discover_repository(path)
        return pygit2.Repository(found) if found else None
    except (pygit2.GitError, OSError, ValueError):
        return None


def default_tip(repo: pygit2.Repository) -> pygit2.Commit | None:
    for name in ("refs/remotes/origin/HEAD", "refs/heads/main", "refs/heads/master", "HEAD"):
        try:
            return repo.revparse_single(name).peel(pygit2.Commit)
        except (KeyError, pygit2.GitError, ValueError):
            continue
    return None


def _branch_tip(repo: pygit2.Repository, branch: str | None) -> pygit2.Commit | None:
    if not branch:
        return None
    for name in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
        try:
            return repo.revparse_single(name).peel(pygit2.Commit)
        except (KeyError, pygit2.GitError, ValueError):
            continue
    return None


def _facts(repo: pygit2.Repository, commit: pygit2.Commit) -> CommitFacts:
    if commit.parents:
        diff = repo.diff(commit.parents[0], commit)
        diff.find_similar()
    else:
        diff = commit.tree.diff_to_tree(swap=True)
    files = tuple(delta.new_file.path for delta in diff.deltas)
    renamed = sum(1 for delta in diff.deltas if delta.status == DeltaStatus.RENAMED)
    subject = commit.message.split("\n", 1)[0].strip()
    return CommitFacts(str(commit.id), subject, files, renamed, _time(commit))


def produced(
    path: str,
    branch: str | None,
    start: datetime,
    end: datetime,
    *,
    author: str | None,
    rework_days: int,
) -> Produced | None:
    """Return what the session in `path` produced between `start` and `end`, or None without git."""
    repo = open_repository(path)
    if repo is None:
        logger.debug("no git repository at %s", path)
        return None
    main = default_tip(repo)
    if main is None:
        logger.debug("the repository at %s has no default branch", path)
        return Produced()
    tip = _branch_tip(repo, branch) or main
    until = end + COMMIT_GRACE

    result = Produced()
    for commit in repo.walk(tip.id, SortMode.TIME):
        when = _time(commit)
        if when < start:
            break
        if when > until or len(commit.parents) > 1:
            continue
        if author and commit.author.email.lower() != author.lower():
            continue
        result.commits.append(_facts(repo, commit))
    result.commits.reverse()
    if not result.commits:
        return result

    for facts in result.commits:
        if facts.sha == str(main.id) or repo.descendant_of(main.id, facts.sha):
            result.merged.add(facts.sha)
    unmerged = [facts.sha for facts in result.commits if facts.sha not in result.merged]
    if unmerged and tip.id != main.id:
        result.landed = find_landings(repo, main, tip, unmerged, start)
        result.merged.update(result.landed)
    _find_pull_requests(repo, main, result)
    _find_rework(repo, main, result, rework_days)
    return result


def _find_pull_requests(repo: pygit2.Repository, main: pygit2.Commit, result: Produced) -> None:
    """Name the pull request of each merged commit, from its merge commit or its own subject.

    A commit that landed under another sha is named from that commit, which is the one on main.
    """
    # The commit on main → the session's commits it stands for.
    stands_for: dict[str, list[str]] = {}
    for sha in result.merged:
        on_main = result.landed[sha].sha if sha in result.landed else sha
        stands_for.setdefault(on_main, []).append(sha)
    unassigned = set(stands_for)
    oldest = min(commit.time for commit in result.commits)
    for commit in repo.walk(main.id, SortMode.TIME):
        if not unassigned or _time(commit) < oldest:
            break
        sha = str(commit.id)
        if sha in unassigned:
            marker = find_pull_request(commit.message)
            if marker is not None:
                for own in stands_for[sha]:
                    result.pull_requests[own] = marker.key
            continue
        if len(commit.parents) < 2:
            continue
        marker = find_pull_request(commit.message)
        if marker is None:
            continue
        # The commits this merge brought in: reachable from its second parent, not its first.
        walker = repo.walk(commit.parents[1].id, SortMode.TOPOLOGICAL)
        walker.hide(commit.parents[0].id)
        for brought in walker:
            key = str(brought.id)
            if key in unassigned:
                for own in stands_for[key]:
                    result.pull_requests[own] = marker.key
                unassigned.discard(key)


def _find_rework(
    repo: pygit2.Repository, main: pygit2.Commit, result: Produced, rework_days: int
) -> None:
    """Find reverts of the session's commits, and later fixes of its files, within the window.

    A revert of the commit a session's commit landed as counts against the session's commit; the
    landed commit itself is the session's work, not a fix of it.
    """
    own = {commit.sha for commit in result.commits}
    # The sha a revert may name → the session's commits it stands for.
    revertible = {sha: [sha] for sha in own}
    for sha, landing in result.landed.items():
        revertible.setdefault(landing.sha, []).append(sha)
    copies = {landing.sha for landing in result.landed.values()}
    oldest = min(commit.time for commit in result.commits)
    latest = max(commit.time for commit in result.commits) + timedelta(days=rework_days)
    files_by_sha = {commit.sha: set(commit.files) for commit in result.commits}
    times = {commit.sha: commit.time for commit in result.commits}

    for commit in repo.walk(main.id, SortMode.TIME):
        when = _time(commit)
        if when < oldest:
            break
        sha = str(commit.id)
        if sha in own or sha in copies or when > latest or len(commit.parents) > 1:
            continue
        for match in _REVERTS.finditer(commit.message):
            for named, targets in revertible.items():
                if named.startswith(match["sha"]):
                    result.reverted_by.update(dict.fromkeys(targets, sha))
        subject, _, body = commit.message.partition("\n")
        if not is_fix_commit(subject, (), body) or subject.lower().startswith("revert"):
            continue
        touched = set(_facts(repo, commit).files)
        for target, files in files_by_sha.items():
            within = times[target] < when <= times[target] + timedelta(days=rework_days)
            if within and files & touched:
                result.refixed_by.setdefault(target, []).append(sha)


def repository_path(cwd: str | None) -> str | None:
    """Return `cwd` when it is inside a git repository on this machine."""
    if not cwd or not Path(cwd).exists():
        return None
    return cwd if open_repository(cwd) is not None else None
