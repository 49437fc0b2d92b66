"""Turning one commit into a record: message, author, and the files its diff touches."""

from __future__ import annotations

import re
from collections import OrderedDict
from datetime import datetime, timedelta, timezone

import pygit2
from pygit2.enums import DeltaStatus, DiffFind, ObjectType

from headstart.indexers.messages import decode, find_links, split_message
from headstart.records import FileChange, Record, RecordKind, is_test_file, record_id

# Renames are looked for in commits adding and deleting at most this many files in all. On
# prometheus (18,400 commits) that cost no measurable time, where every commit cost 46% more
# history-walk time: large commits (vendor updates, moves) compare many contents. A folder move
# keeps the files' names, and the history view pairs those by name (context/renames.py).
RENAME_DETECTION_FILES = 30

_STATUS = {
    DeltaStatus.ADDED: "A",
    DeltaStatus.DELETED: "D",
    DeltaStatus.MODIFIED: "M",
    DeltaStatus.RENAMED: "R",
    DeltaStatus.COPIED: "C",
    DeltaStatus.TYPECHANGE: "T",
}
# Line counts per (old blob, new blob) pair, most recently used last; about 100 bytes each.
_LINE_STATS: OrderedDict[tuple[pygit2.Oid, pygit2.Oid, bool], tuple[int | None, int | None, bool, list[str]]] = OrderedDict()
_LINE_STATS_ENTRIES = 50_000

OBJECT_CACHE_BYTES = 32 * 1024 * 1024

SHALLOW_BOUNDARY_LABEL = "shallow_boundary"
_CO_AUTHOR = re.compile(r"^Co-authored-by:\s*(?P<who>.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_NAME_EMAIL = re.compile(r"^(?P<name>.*?)\s*<(?P<email>[^<>]*)>$")


def tune_for_history() -> None:
    """Set libgit2 up for reading many diffs in this process.

    Blobs and trees stay in memory, because neighbouring commits diff the same ones. On
    sqlalchemy's 18,235 commits, 32 MB a process kept the walk above half of `git log`'s speed
    with under a third of the memory 512 MB took (docs/benchmarks.md). libgit2 stops re-hashing each object it reads, which git does not do
    either. That check took about 30% of the diff time on pytest-dev/pytest, and indexing only
    reads.
    """
    pygit2.settings.cache_max_size(OBJECT_CACHE_BYTES)
    pygit2.settings.cache_object_limit(ObjectType.BLOB, 1024 * 1024)
    pygit2.settings.cache_object_limit(ObjectType.TREE, 1024 * 1024)
    pygit2.settings.enable_strict_hash_verification(False)


def commit_time(commit: pygit2.Commit) -> datetime:
    """Return when a commit was committed (for a merge: when it landed), in UTC."""
    offset = timezone(timedelta(minutes=commit.commit_time_offset))
    return datetime.fromtimestamp(commit.commit_time, tz=offset).astimezone(timezone.utc)


def signature_text(signature: pygit2.Signature, mailmap: pygit2.Mailmap | None) -> str:
    """Render an author as `Name <email>` after `.mailmap`, decoding by the commit's encoding."""
    encoding = getattr(signature, "_encoding", None)
    name = decode(signature.raw_name, encoding)
    email = decode(signature.raw_email, encoding)
    if mailmap is not None:
        # Resolving the decoded text, not the Signature: libgit2 rejects signatures with an
        # empty name or email, which old histories contain.
        name, email = mailmap.resolve(name, email)
    return f"{name} <{email}>"


def co_author_text(trailer: str, mailmap: pygit2.Mailmap | None) -> str:
    """Render a `Co-authored-by:` value as `Name <email>`, after `.mailmap` when it has an email."""
    match = _NAME_EMAIL.match(trailer)
    if match is None or mailmap is None:
        return trailer
    name, email = mailmap.resolve(match["name"], match["email"])
    return f"{name} <{email}>"


def diff_changes(
    repo: pygit2.Repository, commit: pygit2.Commit, *, renames: bool = False, line_counts: bool = True
) -> list[FileChange]:
    """List the files a commit changed against its first parent, with line counts.

    A root commit is diffed against the empty tree. Binary files get no line counts, as in
    `git log --numstat`. Renames are detected in small commits, and in all with `renames`.
    """
    if commit.parents:
        diff = repo.diff(commit.parents[0], commit, context_lines=0, interhunk_lines=0)
    else:
        diff = commit.tree.diff_to_tree(swap=True, context_lines=0, interhunk_lines=0)
    if _may_rename(diff, every_commit=renames):
        try:
            diff.find_similar(flags=DiffFind.FIND_RENAMES)
        except (pygit2.GitError, KeyError):
            # Rename detection compares contents, which a partial clone may not have. The
            # files then show as deleted and added, as without --renames.
            pass

    changes: list[FileChange] = []
    for position, delta in enumerate(diff.deltas):
        status = _STATUS.get(delta.status, "M")
        changed = delta.old_file if status == "D" else delta.new_file
        path = file_path(changed)
        wants_tests = status != "D" and is_test_file(path)
        functions: list[str] = []
        if line_counts or wants_tests:
            added, removed, binary, functions = _patch_facts(diff, position, delta, wants_tests)
        else:
            added, removed, binary = None, None, bool(delta.is_binary)
        if not line_counts:
            added = removed = None
        changes.append(
            FileChange(
                path=path,
                status=status,
                added=added,
                removed=removed,
                old_path=file_path(delta.old_file) if status in ("R", "C") else None,
                binary=binary,
                functions=functions,
            )
        )
    return changes


def _may_rename(diff: pygit2.Diff, *, every_commit: bool) -> bool:
    """Tell whether to look for renames in a diff: it must add and delete files.

    Unless `every_commit`, it must also add and delete at most RENAME_DETECTION_FILES in all.
    """
    added = deleted = 0
    for delta in diff.deltas:
        if delta.status == DeltaStatus.ADDED:
            added += 1
        elif delta.status == DeltaStatus.DELETED:
            deleted += 1
    return added > 0 and deleted > 0 and (every_commit or added + deleted <= RENAME_DETECTION_FILES)


# Test definitions in added lines or hunk headers: pytest and unittest, Go, JS/TS runners, JUnit.
_TEST_DEFINITIONS = (
    re.compile(r"^\s*(?:async\s+)?def\s+(test\w*)\s*\("),
    re.compile(r"^\s*func\s+(Test\w+)\s*\("),
    re.compile(r"\b(?:it|test)\(\s*['\"`]([^'\"`]{1,80})['\"`]"),
    re.compile(r"\bvoid\s+(test\w*)\s*\("),
)


def test_functions(patch_text: str) -> list[str]:
    """Name the tests a patch adds or edits: definitions on added lines, and the enclosing
    definition git names in each hunk header."""
    found: dict[str, None] = {}
    for line in patch_text.splitlines():
        if line.startswith("@@"):
            text = line.rsplit("@@", 1)[-1]
        elif line.startswith("+") and not line.startswith("+++"):
            text = line[1:]
        else:
            continue
        for pattern in _TEST_DEFINITIONS:
            match = pattern.search(text)
            if match:
                found.setdefault(match.group(1), None)
                break
    return list(found)[:20]


def _patch_facts(
    diff: pygit2.Diff, position: int, delta: pygit2.DiffDelta, wants_tests: bool
) -> tuple[int | None, int | None, bool, list[str]]:
    """Count added and removed lines of one delta, and name its tests when asked, building its
    patch at most once and reusing the facts of a blob pair seen before.

    A merge's diff against its first parent mostly repeats blob pairs that the pull request's
    own commits changed, and building a patch is the slowest step of indexing.
    """
    key = (delta.old_file.id, delta.new_file.id, wants_tests)
    cached = _LINE_STATS.get(key)
    if cached is not None:
        _LINE_STATS.move_to_end(key)
        return cached

    facts: tuple[int | None, int | None, bool, list[str]]
    try:
        patch = diff[position]
    except (pygit2.GitError, KeyError):
        # A blob missing from the object database, as in a partial clone made with
        # `--filter=blob:limit=…`. The file is still listed as changed, with unknown line counts.
        facts = (None, None, False, [])
    else:
        if patch is None or patch.delta.is_binary:
            facts = (None, None, True, [])
        else:
            _, added, removed = patch.line_stats
            facts = (added, removed, False, test_functions(patch.text) if wants_tests else [])
    _LINE_STATS[key] = facts
    if len(_LINE_STATS) > _LINE_STATS_ENTRIES:
        _LINE_STATS.popitem(last=False)
    return facts


def unknown_line_counts(change: FileChange) -> bool:
    """Tell whether a change's line counts are unknown because its blobs were missing."""
    return change.added is None and not change.binary


def file_path(file: pygit2.DiffFile) -> str:
    """Decode a diffed file's path as UTF-8, replacing bytes that are not, in POSIX form."""
    return to_posix(file.raw_path.decode("utf-8", errors="replace"))


def to_posix(path: str) -> str:
    """Store paths with forward slashes whatever the platform wrote."""
    return path.replace("\\", "/")


def commit_record(
    repo: pygit2.Repository,
    commit: pygit2.Commit,
    repo_name: str,
    mailmap: pygit2.Mailmap | None,
    *,
    renames: bool = False,
    shallow_boundary: frozenset[str] = frozenset(),
) -> Record:
    """Build the record of one commit, links included.

    A commit in `shallow_boundary` (its parents are missing from a shallow clone) keeps the
    parents its header names but lists no file changes, because its diff cannot be known.
    """
    message = decode(commit.raw_message, commit.message_encoding)
    subject, body = split_message(message)
    sha = str(commit.id)

    authors = [signature_text(commit.author, mailmap)]
    for co_author in _CO_AUTHOR.finditer(message):
        co_author_name = co_author_text(co_author["who"], mailmap)
        if co_author_name not in authors:
            authors.append(co_author_name)

    if sha in shallow_boundary:
        # libgit2 hides the missing parents, so a diff would list every file as added.
        parents = header_parents(repo, commit)
        changes: list[FileChange] = []
        labels = [SHALLOW_BOUNDARY_LABEL]
    else:
        parents = [str(parent) for parent in commit.parent_ids]
        changes = diff_changes(repo, commit, renames=renames)
        labels = []
    return Record(
        id=record_id(repo_name, RecordKind.COMMIT, sha),
        repo=repo_name,
        kind=RecordKind.COMMIT,
        key=sha,
        title=subject,
        body=body,
        files=[change.path for change in changes],
        authors=authors,
        created_at=commit_time(commit),
        links=find_links(message),
        parents=parents,
        changes=changes,
        labels=labels,
    )


def header_parents(repo: pygit2.Repository, commit: pygit2.Commit) -> list[str]:
    """Read the parent shas written in a commit object, including ones a shallow clone lacks."""
    _, raw = repo.odb.read(commit.id)
    header, _, _ = raw.partition(b"\n\n")
    return [line[7:].decode("ascii") for line in header.split(b"\n") if line.startswith(b"parent ")]
