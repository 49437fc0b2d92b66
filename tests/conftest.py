"""Fixtures shared by every test: real git repositories and a real store on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from headstart.config import Settings
from headstart.store import Embedder, Store

# Tests never read the developer's own config file or data directory.
os.environ["HEADSTART_CONFIG"] = os.devnull


class GitRepo:
    """A repository made in the test with the real `git`, with deterministic dates."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc).timestamp()

    def git(self, *args: str, input: bytes | None = None) -> str:
        self.clock += 3600
        stamp = f"@{int(self.clock)} +0000"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Ada Lovelace",
            "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Ada Lovelace",
            "GIT_COMMITTER_EMAIL": "ada@example.com",
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_SYSTEM": os.devnull,
        }
        result = subprocess.run(
            ["git", *args], cwd=self.path, env=env, input=input, capture_output=True, check=True
        )
        return result.stdout.decode().strip()

    def write(self, relative: str, content: str | bytes) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)

    def commit(self, message: str, files: dict[str, str | bytes | None] | None = None, *, author: str | None = None) -> str:
        """Write (or, for None, delete) files, commit them all, and return the new sha."""
        for relative, content in (files or {}).items():
            if content is None:
                self.git("rm", "-q", relative)
            else:
                self.write(relative, content)
                self.git("add", relative)
        args = ["commit", "-q", "--allow-empty", "-m", message]
        if author:
            args += ["--author", author]
        self.git(*args)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    path = tmp_path / "repo"
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    return repo


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model, loaded once for the whole run."""
    model = Embedder("all-MiniLM-L6-v2")
    _ = model.model
    return model


@pytest.fixture
def store(tmp_path: Path, embedder: Embedder) -> Store:
    return Store(str(tmp_path / "store"), embedder)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    yield Settings(data_dir=tmp_path / "data", db=str(tmp_path / "store"))


def run_headstart(*arguments: str, data: Path) -> subprocess.CompletedProcess[str]:
    """Run the `headstart` command line in a new process, with its data in `data` and no config file."""
    return subprocess.run(
        [sys.executable, "-c", "from headstart.cli import main; main()", *arguments],
        env={**os.environ, "HEADSTART_CONFIG": os.devnull, "HEADSTART_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
