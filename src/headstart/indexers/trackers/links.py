"""Linking tracker records to what git indexed: the commits a pull request landed, the fixes of a bug.

Merge, squash and rebase merges are all resolved from the commit records in the store. A merge
commit or a squash commit is the one commit GitHub reports as `merge_commit_sha`. A rebase merge
landed that commit and the commits below it on its first-parent line, one per pull-request commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from headstart.records import Link, LinkKind, Record, RecordKind
from headstart.store import Store

_SQUASH_SUFFIX = re.compile(r"\(#(?P<number>\d+)\)\s*$")


@dataclass
class CommitRow:
    sha: str
    title: str
    body: str
    parents: list[str]
    files: list[str]
    links: list[tuple[str, str]]


@dataclass
class RepositoryLinks:
    """The commits and pull requests of one repository, loaded once per write."""

    commits: dict[str, CommitRow] = field(default_factory=dict)
    pull_requests: dict[str, Record] = field(default_factory=dict)
    pull_request_links: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    pull_request_files: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store, repo: str) -> RepositoryLinks:
        loaded = cls()
        table = store.columns(repo, ["kind", "key", "title", "body", "parents", "files", "links"],
                              kinds=[RecordKind.COMMIT.value, RecordKind.PULL_REQUEST.value])
        for row in table.to_pylist():
            links = [(link["kind"], link["target"]) for link in row["links"] or []]
            if row["kind"] == RecordKind.COMMIT.value:
                loaded.commits[row["key"]] = CommitRow(
                    sha=row["key"],
                    title=row["title"] or "",
                    body=row["body"] or "",
                    parents=list(row["parents"] or []),
                    files=list(row["files"] or []),
                    links=links,
                )
            else:
                loaded.pull_request_links[row["key"]] = links
                loaded.pull_request_files[row["key"]] = list(row["files"] or [])
        return loaded

    def landed_commits(self, merge_sha: str, number: int, commit_count: int | None) -> list[str]:
        """Return the shas a merged pull request put on its base branch, newest first."""
        commit = self.commits.get(merge_sha)
        if commit is None or len(commit.parents) > 1 or not commit_count or commit_count <= 1:
            return [merge_sha]
        squash = _SQUASH_SUFFIX.search(commit.title)
        if squash and int(squash["number"]) == number:
            return [merge_sha]

        # A rebase merge: the pull request's commits sit in a row ending at merge_sha.
        landed = [merge_sha]
        while len(landed) < commit_count:
            parents = self.commits[landed[-1]].parents if landed[-1] in self.commits else []
            if not parents or parents[0] not in self.commits:
                break
            landed.append(parents[0])
        return landed

    def fixes_of(self, issue_targets: set[str], mention: re.Pattern[str] | None = None) -> list[Link]:
        """Return fixed_by links to commits and pull requests that fix one of `issue_targets`, or name a Jira key."""
        found: list[Link] = []
        for sha, commit in self.commits.items():
            fixes = any(kind == LinkKind.FIXES.value and target in issue_targets for kind, target in commit.links)
            if fixes or (mention is not None and mention.search(f"{commit.title}\n{commit.body}")):
                found.append(Link(kind=LinkKind.FIXED_BY, target=f"commit:{sha}"))
        for key, links in self.pull_request_links.items():
            if any(kind == LinkKind.FIXES.value and target in issue_targets for kind, target in links):
                found.append(Link(kind=LinkKind.FIXED_BY, target=f"pull_request:{key}"))
        return found

    def files_of(self, target: str) -> list[str]:
        kind, _, key = target.partition(":")
        if kind == "commit" and key in self.commits:
            return self.commits[key].files
        if kind == "pull_request":
            return self.pull_request_files.get(key, [])
        return []

    def remember(self, record: Record) -> None:
        """Add a pull request written in this run, so bugs in the same run can link to it."""
        if record.kind == RecordKind.PULL_REQUEST:
            self.pull_request_links[record.key] = [(link.kind.value, link.target) for link in record.links]
            self.pull_request_files[record.key] = record.files


def issue_targets(key: str, project: str | None) -> set[str]:
    """Ways a commit message names an issue: `#12`, `owner/name#12` or a Jira key."""
    if key.startswith("#"):
        targets = {f"issue:{key}"}
        if project:
            targets.add(f"issue:{project}{key}")
        return targets
    if "#" in key:
        # A GitLab key such as `group/project#12`; commits in that project write `#12`.
        return {f"issue:{key}", f"issue:#{key.rpartition('#')[2]}"}
    return {f"issue:{key}"}


def jira_mention(key: str) -> re.Pattern[str]:
    """Match a Jira key as a whole word, so PROJ-1 does not match PROJ-12."""
    return re.compile(rf"(?<![\w-]){re.escape(key)}(?![\w])")


def merge_links(old: list[Link], new: list[Link]) -> list[Link]:
    """Keep every link of both lists once, old ones first."""
    seen: set[tuple[str, str]] = set()
    merged: list[Link] = []
    for link in [*old, *new]:
        if (link.kind.value, link.target) not in seen:
            seen.add((link.kind.value, link.target))
            merged.append(link)
    return merged
