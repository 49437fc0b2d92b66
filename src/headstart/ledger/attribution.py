"""Work out who ran a local session and in which repository, from its working directory."""

from __future__ import annotations

import getpass
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from headstart.ledger.teams import normalize_repository

if TYPE_CHECKING:
    import pygit2

logger = logging.getLogger("headstart.ledger.attribution")

# pygit2 is imported on first use, in the process that reads the logs. An ingest's workers
# each import it then; the command itself starts them sooner without it.


@lru_cache(maxsize=4096)
def repository_for(cwd: str) -> str | None:
    """Return the normalized origin remote of the repository containing `cwd`, if it exists here.

    Without a remote, the repository's folder name is used. A folder that is not inside a
    repository on this machine (logs copied from elsewhere) gives None.
    """
    import pygit2

    try:
        found = pygit2.discover_repository(cwd)
    except (pygit2.GitError, OSError, ValueError):
        return None
    if not found:
        return None
    try:
        repo = pygit2.Repository(found)
    except pygit2.GitError:
        return None

    remotes = {remote.name: remote.url for remote in repo.remotes if remote.url}
    url = remotes.get("origin") or next(iter(remotes.values()), None)
    if url:
        return normalize_repository(url)
    workdir = repo.workdir or found
    return Path(workdir.rstrip("/")).name or None


@lru_cache(maxsize=4096)
def git_email_for(cwd: str | None) -> str | None:
    """Return git's user.email as seen from `cwd` (repository config first, then global)."""
    import pygit2

    config: pygit2.Config | None = None
    try:
        found = pygit2.discover_repository(cwd) if cwd else None
        config = pygit2.Repository(found).config if found else pygit2.Config.get_global_config()
    except (pygit2.GitError, OSError, ValueError):
        config = None
    if config is None:
        return None
    try:
        return str(config["user.email"]).strip() or None
    except (KeyError, pygit2.GitError):
        return None


@lru_cache(maxsize=1)
def os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or os.environ.get("USERNAME")


def local_engineer(cwd: str | None) -> str | None:
    """Name the engineer behind a local log: git user.email, else the OS user."""
    return git_email_for(cwd) or os_user()
