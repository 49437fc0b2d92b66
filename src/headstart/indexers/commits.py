"""Turning one commit into a record: message, author, and the files its diff touches."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pygit2
from pygit2.enums import DeltaStatus, DiffFind, ObjectType

from headstart.indexers.messages import decode, find_links, split_message
from headstart.records import FileChange, Record, RecordKind, record_id

_STATUS = {
    DeltaStatus.ADDED: "A",
    DeltaStatus.DELETED: "D",
    DeltaStatus.MODIFIED: "M",
    DeltaStatus.RENAMED: "R",
    DeltaStatus.COPIED: "C",
    DeltaStatus.TYPECHANGE: "T",
}
_CO_AUTHOR = re.compile(r"^Co-authored-by:\s*(?P<who>.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def enable_object_cache() -> None:
    """Let libgit2 keep blobs and trees in memory; neighbouring commits diff the same ones."""
    pygit2.settings.cache_max_size(512 * 1024 * 1024)
    pygit2.settings.cache_object_limit(ObjectType.BLOB, 1024 * 1024)
    pygit2.settings.cache_object_limit(ObjectType.TREE, 1024 * 1024)


def commit_time(commit: pygit2.Commit) -> datetime:
    offset = timezone(timedelta(minutes=commit.commit_time_offset))
    return datetime.fromtimestamp(commit.commit_time, tz=offset).astimezone(timezone.utc)


def signature_text(signature: pygit2.Signature, mailmap: pygit2.Mailmap | None) -> str:
    """Render an author as `Name <email>` after `.mailmap`, decoding by the commit's encoding."""
    if mailmap is not None:
        signature = mailmap.resolve_signature(signature)
    encoding = getattr(signature, "_encoding", None)
    name = decode(signature.raw_name, encoding)
    email = decode(signature.raw_email, encoding)
    return f"{name} <{email}>"


def diff_changes(
    repo: pygit2.Repository, commit: pygit2.Commit, *, renames: bool = False
) -> list[FileChange]:
    """List the files a commit changed against its first parent, with line counts."""
    if commit.parents:
        diff = repo.diff(commit.parents[0], commit, context_lines=0)
    else:
        diff = commit.tree.diff_to_tree(swap=True, context_lines=0)
    if renames:
        diff.find_similar(flags=DiffFind.FIND_RENAMES)

    changes: list[FileChange] = []
    for patch in diff:
        if patch is None:
            continue
        delta = patch.delta
        status = _STATUS.get(delta.status, "M")
        path = delta.new_file.path if status != "D" else delta.old_file.path
        if delta.is_binary:
            added = removed = None
        else:
            _, added, removed = patch.line_stats
        changes.append(
            FileChange(
                path=to_posix(path),
                status=status,
                added=added,
                removed=removed,
                old_path=to_posix(delta.old_file.path) if status in ("R", "C") else None,
                binary=delta.is_binary,
            )
        )
    return changes


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
) -> Record:
    """Build the record of one commit, links included."""
    message = decode(commit.raw_message, commit.message_encoding)
    subject, body = split_message(message)
    sha = str(commit.id)

    authors = [signature_text(commit.author, mailmap)]
    for co_author in _CO_AUTHOR.finditer(message):
        if co_author["who"] not in authors:
            authors.append(co_author["who"])

    changes = diff_changes(repo, commit, renames=renames)
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
        parents=[str(parent) for parent in commit.parent_ids],
        changes=changes,
    )
