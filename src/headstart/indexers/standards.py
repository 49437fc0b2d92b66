"""Rules files and CODEOWNERS at the indexed head, stored as `standard` records."""

from __future__ import annotations

import fnmatch
import posixpath

import pygit2

from headstart.indexers.commits import commit_time
from headstart.indexers.messages import decode
from headstart.records import Record, RecordKind, record_id

# Files with instructions for agents and contributors; each applies to its directory and below.
RULE_PATTERNS = (
    "AGENTS.md",
    "CLAUDE.md",
    "GEMINI.md",
    ".cursorrules",
    ".cursor/rules/*",
    ".github/copilot-instructions.md",
    "CONTRIBUTING*",
    "docs/adr/*",
    "doc/adr/*",
    "docs/decisions/*",
    "doc/decisions/*",
    "docs/architecture/decisions/*",
)
CODEOWNERS_PATHS = ("CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")
MAX_BYTES = 64 * 1024


def is_rules_file(path: str) -> bool:
    name = posixpath.basename(path)
    for pattern in RULE_PATTERNS:
        if "/" in pattern:
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, "*/" + pattern):
                return True
        elif fnmatch.fnmatch(name, pattern):
            return True
    return False


def standard_records(repo: pygit2.Repository, head: pygit2.Commit, repo_name: str, paths: list[str]) -> list[Record]:
    """Build one record per rules file or CODEOWNERS file tracked at `head`."""
    records: list[Record] = []
    for path in paths:
        codeowners = path in CODEOWNERS_PATHS
        if not codeowners and not is_rules_file(path):
            continue
        blob = head.tree[path]
        if not isinstance(blob, pygit2.Blob) or blob.is_binary:
            continue
        text = decode(blob.data[:MAX_BYTES], "utf-8")
        records.append(
            Record(
                id=record_id(repo_name, RecordKind.STANDARD, path),
                repo=repo_name,
                kind=RecordKind.STANDARD,
                key=path,
                title=f"Rules in {path}" if not codeowners else f"Code owners in {path}",
                body=text,
                files=[path],
                created_at=commit_time(head),
                labels=["codeowners" if codeowners else "rules"],
            )
        )
    return records
