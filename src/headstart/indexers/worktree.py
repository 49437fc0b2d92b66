"""The files a working tree changes against a base revision."""

from __future__ import annotations

from pathlib import Path

import pygit2

from headstart.errors import InputError
from headstart.indexers.commits import to_posix
from headstart.indexers.repository import open_repository


def changed_files(path: str | Path, base: str = "HEAD") -> list[str]:
    """List files changed, staged or not, in the working tree at `path` against `base`,
    including new files git does not ignore."""
    opened = open_repository(path)
    repo = opened.repo
    if repo.is_bare:
        raise InputError(f"{str(opened.path)!r} is a bare repository: it has no working tree to check")
    try:
        base_commit = repo.revparse_single(base).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        raise InputError(f"--base {base!r} does not name a commit; use a branch, tag or sha") from exc

    paths: dict[str, None] = {}
    for patch in base_commit.tree.diff_to_workdir():
        delta = patch.delta
        paths.setdefault(to_posix(delta.new_file.path or delta.old_file.path), None)
    for patch in base_commit.tree.diff_to_index(repo.index):
        delta = patch.delta
        paths.setdefault(to_posix(delta.new_file.path or delta.old_file.path), None)
    for file_path, flags in repo.status().items():
        if flags & pygit2.enums.FileStatus.WT_NEW:
            paths.setdefault(to_posix(file_path), None)
    return list(paths)
