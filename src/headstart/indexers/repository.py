"""Opening a git repository and naming it the same way on every run."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
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


def shallow_boundary(repo: pygit2.Repository) -> frozenset[str]:
    """Return the commits whose parents a shallow clone left out (git lists them in `shallow`)."""
    if not repo.is_shallow:
        return frozenset()
    try:
        lines = (Path(repo.path) / "shallow").read_text(encoding="ascii").split()
    except OSError:
        return frozenset()
    return frozenset(line.strip() for line in lines if line.strip())


def open_for_diffs(path: str) -> pygit2.Repository:
    """Open a repository's object database for reading diffs, without its working tree.

    Diffs then skip the per-file `.gitattributes` look-ups in the working tree, which took
    about 30% of the diff time on pallets/click. Binary files are still detected by content.
    """
    try:
        return pygit2.Repository(path, flags=pygit2.enums.RepositoryOpenFlag.BARE)
    except pygit2.GitError:
        # A linked worktree's git directory cannot be opened bare; its working tree is fine.
        return pygit2.Repository(path)


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


# Files larger than this are generated or data, and are not read as text.
MAX_TEXT_BYTES = 1024 * 1024


def text_blobs(commit: pygit2.Commit, paths: Iterable[str]) -> Iterator[tuple[str, bytes | None]]:
    """Yield (path, contents) for each of `paths` at `commit`, with None for a file not read.

    A file is not read when it is binary, over 1 MiB, or missing from a partial clone.
    """
    for path in paths:
        try:
            blob = commit.tree[path]
            if blob.size > MAX_TEXT_BYTES or blob.is_binary:
                yield path, None
                continue
            data = blob.data
        except (KeyError, pygit2.GitError):
            yield path, None
            continue
        yield path, data
