"""Find where a branch's commits landed on the default branch under other shas.

GitHub's "squash and merge" writes one new commit with the branch's whole change, and "rebase and
merge" writes a copy of each commit. Either way the session's own commits never reach the
default branch, although their work did. Both are found offline by comparing changes, not shas:

- squash: a commit on the default branch whose change (parent tree → tree) equals the branch's
  cumulative change (merge-base tree → tip tree, and merge-base → the session's newest commit, in
  case the branch moved on after the merge);
- rebase: a commit on the default branch whose change equals one of the session's commits.

A change is compared by its patch id (libgit2's `git_diff_patchid`, the stable id of
`git patch-id --stable`: whitespace and line numbers ignored, independent of file order),
computed on diffs without context lines so that edits landed next to other changes still match.
Only commits on the default branch made since the session started are read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import pygit2
from pygit2.enums import SortMode

logger = logging.getLogger("headstart.ledger.reports.landing")

SQUASH = "squash"
REBASE = "rebase"
# Patch ids kept between sessions; a few MB at most.
CACHE_SIZE = 65536
_CHANGES: dict[tuple[str, str], str | None] = {}


@dataclass(frozen=True)
class Landing:
    """The commit on the default branch that carries a session's commit, and how it got there."""

    how: str  # SQUASH or REBASE
    sha: str


def _patch_id(diff: pygit2.Diff) -> str | None:
    # An empty change has an id too, and every empty commit would match every other.
    return str(diff.patchid) if len(diff) else None


def _change(repo: pygit2.Repository, old: pygit2.Commit, new: pygit2.Commit) -> str | None:
    return _patch_id(repo.diff(old, new, context_lines=0))


def _commit_change(repo: pygit2.Repository, sha: str) -> str | None:
    """Return the patch id of a single-parent commit's change.

    Cached by repository and sha, because every session of a repository reads the same commits
    on its default branch, and a commit's change never changes.
    """
    key = (repo.path, sha)
    if key not in _CHANGES:
        if len(_CHANGES) >= CACHE_SIZE:
            _CHANGES.clear()
        commit = repo.get(sha)
        single = isinstance(commit, pygit2.Commit) and len(commit.parents) == 1
        _CHANGES[key] = _change(repo, commit.parents[0], commit) if single else None
    return _CHANGES[key]


def _subject(commit: pygit2.Commit) -> str:
    return commit.message.split("\n", 1)[0].strip()


def _squash_changes(
    repo: pygit2.Repository, main: pygit2.Commit, tip: pygit2.Commit, unmerged: list[str]
) -> dict[str, list[str]]:
    """Return the branch's cumulative changes → the session's commits each one covers."""
    newest = unmerged[-1]
    ends = [tip] if str(tip.id) == newest else [tip, repo.get(newest)]
    found: dict[str, list[str]] = {}
    for end in ends:
        base = repo.merge_base(main.id, end.id)
        if base is None or base == end.id:
            continue
        change = _change(repo, repo.get(base), end)
        if change is None or change in found:
            continue
        found[change] = [
            sha for sha in unmerged if sha == str(end.id) or repo.descendant_of(end.id, sha)
        ]
    return found


def find_landings(
    repo: pygit2.Repository,
    main: pygit2.Commit,
    tip: pygit2.Commit,
    unmerged: list[str],
    since: datetime,
) -> dict[str, Landing]:
    """Return, for each of `unmerged` (oldest first, on `tip`), the main commit that carries it."""
    squashes = _squash_changes(repo, main, tip, unmerged)
    own = {_commit_change(repo, sha): sha for sha in unmerged}
    own.pop(None, None)
    subjects = {sha: _subject(repo.get(sha)) for sha in unmerged}

    landed: dict[str, Landing] = {}
    for commit in repo.walk(main.id, SortMode.TIME):
        if commit.commit_time < since.timestamp():
            break
        if len(commit.parents) != 1:
            continue
        sha = str(commit.id)
        change = _commit_change(repo, sha)
        if change is None:
            continue
        if change in own:
            covered = own.pop(change)
            # A branch of one commit squashed keeps its change but takes the pull request's title.
            how = REBASE if _subject(commit) == subjects[covered] else SQUASH
            landed.setdefault(covered, Landing(how, sha))
        elif change in squashes:
            for covered in squashes.pop(change):
                landed.setdefault(covered, Landing(SQUASH, sha))
        if len(landed) == len(unmerged):
            break
    if landed:
        logger.debug("found %d commits landed under other shas", len(landed))
    return landed
