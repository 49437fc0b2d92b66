"""Writing tracker records to the store: merged with what git indexed, linked, redacted, embedded."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from headstart.indexers.redaction import redact_record
from headstart.indexers.trackers.links import RepositoryLinks, issue_targets, jira_mention, merge_links
from headstart.records import Link, LinkKind, Record, RecordKind
from headstart.store import Store

logger = logging.getLogger("headstart.indexers.trackers")

# Path-like words in bug text: `src/app.py`, File "pkg/mod.py", line 3, app.py:12.
_PATH_WORD = re.compile(r"[\w./\\-]*\w\.\w{1,8}\b")


@dataclass(frozen=True)
class Landing:
    """The landing of a merged pull request: the commit the tracker reports and its commit count."""

    merge_sha: str
    commits: int | None


def write_records(
    store: Store,
    repo: str,
    records: Sequence[Record],
    *,
    landings: Mapping[str, Landing] | None = None,
    project: str | None = None,
) -> int:
    """Store tracker records of one repository and return how many were written.

    A pull request keeps the links and labels of the record git derived for it. Bugs get the
    commits and pull requests that fixed them, and the files of those, from the store.
    """
    if not records:
        return 0
    known = RepositoryLinks.load(store, repo)
    existing = _existing_pull_requests(store, repo)
    head_files = store.head_files(repo) or set()
    landings = landings or {}
    # Commits may name an issue with its project (`owner/name#7`), as well as `#7`.
    project = project or repo.partition("/")[2]

    pull_requests = [record for record in records if record.kind == RecordKind.PULL_REQUEST]
    for record in pull_requests:
        landing = landings.get(record.key)
        if landing is not None:
            shas = known.landed_commits(landing.merge_sha, record.number or 0, landing.commits)
            record.links = merge_links(record.links, [Link(kind=LinkKind.MERGED_AS, target=f"commit:{sha}") for sha in shas])
        old = existing.get(record.key)
        if old is not None:
            record.links = merge_links(old[0], record.links)
            record.labels = list(dict.fromkeys([*record.labels, *old[1]]))
        known.remember(record)

    for record in records:
        if record.kind == RecordKind.BUG:
            _link_bug(record, known, head_files, project)

    store.embed_and_upsert([redact_record(record) for record in records])
    logger.debug("%s: wrote %d tracker records", repo, len(records))
    return len(records)


def _existing_pull_requests(store: Store, repo: str) -> dict[str, tuple[list[Link], list[str]]]:
    table = store.columns(repo, ["key", "links", "labels"], kinds=[RecordKind.PULL_REQUEST.value])
    return {
        row["key"]: ([Link(**link) for link in row["links"] or []], list(row["labels"] or []))
        for row in table.to_pylist()
    }


def _link_bug(bug: Record, known: RepositoryLinks, head_files: set[str], project: str | None) -> None:
    """Add fixed_by links found in the store, and files from the fixes or the bug's own text."""
    jira = not bug.key.startswith("#") and "#" not in bug.key
    fixes = known.fixes_of(issue_targets(bug.key, project), jira_mention(bug.key) if jira else None)
    bug.links = merge_links(bug.links, fixes)

    files: list[str] = list(bug.files)
    for link in bug.links:
        if link.kind == LinkKind.FIXED_BY:
            files.extend(known.files_of(link.target))
    if not files:
        files = mentioned_files(f"{bug.title}\n{bug.body}", head_files)
    bug.files = list(dict.fromkeys(files))


def mentioned_files(text: str, head_files: set[str]) -> list[str]:
    """Files at the indexed head that a bug report names, by path or by a unique file name."""
    by_name: dict[str, list[str]] = {}
    for path in head_files:
        by_name.setdefault(path.rpartition("/")[2], []).append(path)

    found: list[str] = []
    for word in _PATH_WORD.findall(text):
        word = word.replace("\\", "/").lstrip("./")
        if word in head_files:
            found.append(word)
            continue
        # A traceback names absolute paths; match the longest tail that is a tracked file.
        parts = word.split("/")
        tail = next(("/".join(parts[start:]) for start in range(1, len(parts)) if "/".join(parts[start:]) in head_files), None)
        if tail:
            found.append(tail)
        elif "/" not in word and len(by_name.get(word, [])) == 1:
            found.append(by_name[word][0])
    return list(dict.fromkeys(found))
