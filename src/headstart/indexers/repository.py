"""Opening a git repository and naming it the same way on every run."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pygit2

from headstart.errors import InputError, NotARepositoryError

logger = logging.getLogger("headstart.indexers")

_REMOTE = re.compile(r"^(?:[\w+]+://)?(?:[^@/]+@)?(?P<host>[^/:]+)[:/](?P<path>.+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class OpenRepository:
    """A repository opened for indexing, with the name records carry and its head."""

    repo: pygit2.Repository
    path: Path
    name: str
    head: pygit2.Commit | None  # None for an empty repository


def open_repository(path: str | Path | None = None, until: str | None = None) -> OpenRepository:
    """Open the repository at or above `path` and resolve the revision to index.

    Raises NotARepositoryError when no repository contains `path`, and InputError when
    `until` does not name a commit.
    """
    start = Path(path or ".").expanduser().resolve()
    if not start.exists():
        raise NotARepositoryError(f"path {str(start)!r} does not exist; pass the folder of a git repository")
    found = pygit2.discover_repository(str(start))
    if found is None:
        raise NotARepositoryError(
            f"{str(start)!r} is not inside a git repository; pass a repository's folder "
            "(for example `headstart index ~/src/project`) or run `git init` first"
        )
    repo = pygit2.Repository(found)
    root = Path(repo.path if repo.is_bare else repo.workdir).resolve()

    if repo.is_shallow:
        logger.warning(
            "%s is a shallow clone: only the history it holds is indexed; "
            "run `git fetch --unshallow` for the full history",
            root,
        )

    head = _resolve_head(repo, until)
    return OpenRepository(repo=repo, path=root, name=repository_name(repo, root), head=head)


def _resolve_head(repo: pygit2.Repository, until: str | None) -> pygit2.Commit | None:
    if until is not None:
        try:
            return repo.revparse_single(until).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise InputError(
                f"--until {until!r} does not name a commit in {repo.path!r}; "
                "use a branch, tag or sha that `git rev-parse` accepts"
            ) from exc
    if repo.head_is_unborn or repo.is_empty:
        return None
    return repo.head.peel(pygit2.Commit)


def repository_name(repo: pygit2.Repository, root: Path) -> str:
    """Name a repository by its origin remote (`host/owner/name`), else by its absolute path."""
    try:
        remote = repo.remotes["origin"]
    except (KeyError, ValueError):
        remote = None
    if remote is not None and remote.url:
        match = _REMOTE.match(remote.url.strip())
        if match and not remote.url.startswith(("/", "file:", ".")):
            return f"{match['host'].lower()}/{match['path']}"
    return root.as_posix()
