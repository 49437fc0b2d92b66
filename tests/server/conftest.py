"""Fixtures for server tests: one indexed repository per module, and ways to reach a server."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from headstart.config import Settings
from headstart.indexers.pipeline import index_repository
from headstart.service import Headstart
from headstart.store import Embedder, Store

HEADSTART = str(Path(sys.executable).with_name("headstart"))


def _load_root_conftest():
    # `from conftest import …` finds whichever folder's conftest pytest loaded last, so the
    # root one, which defines GitRepo, is loaded by its path under a name of its own.
    path = Path(__file__).parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("headstart_tests_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GitRepo = _load_root_conftest().GitRepo

# A commit body far longer than any page budget, as busy repositories have (squash merges,
# generated changelogs).
LONG_BODY = "\n".join(
    f"- bump dependency number {number} to its next minor release" for number in range(400)
)


@dataclass
class IndexedRepo:
    """A git repository indexed into a store under `data_dir`."""

    path: Path
    data_dir: Path
    embedder: Embedder

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir)

    def headstart(self, settings: Settings | None = None) -> Headstart:
        """A Headstart on this store that reuses the loaded model."""
        settings = settings or self.settings
        return Headstart(settings, store=Store(settings.store_uri, self.embedder))

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a `headstart` subprocess that uses this store and no user config."""
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.data_dir)),
            "HEADSTART_CONFIG": os.devnull,
            "HEADSTART_DATA_DIR": str(self.data_dir),
            **extra,
        }


def build_history(repo: GitRepo) -> None:
    """Commit a small but busy history: one hot file, a co-changing pair, a fix and a revert."""
    repo.commit(
        "Add HTTP client",
        {"src/http/client.py": "def get(url):\n    pass\n", "README.md": "demo\n"},
    )
    repo.commit("Add connection pool", {"src/http/pool.py": "POOL = []\n"})
    for number in range(1, 9):
        repo.commit(
            f"Add retry with backoff to the HTTP client, step {number}",
            {
                "src/http/client.py": f"def get(url):\n    retries = {number}\n",
                "src/http/pool.py": f"POOL = [{number}]\n",
            },
        )
    repo.commit(
        f"Update dependencies\n\n{LONG_BODY}",
        {"src/http/client.py": "def get(url):\n    retries = 9\n"},
    )
    bad = repo.commit(
        "Make the retry loop unbounded",
        {"src/http/client.py": "def get(url):\n    while True: pass\n"},
    )
    repo.commit(
        f'Revert "Make the retry loop unbounded"\n\nThis reverts commit {bad}.',
        {"src/http/client.py": "def get(url):\n    retries = 9\n"},
    )
    repo.commit(
        "Fix retry counter off by one (fixes #12)",
        {"src/http/client.py": "def get(url):\n    retries = 10\n"},
    )


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> IndexedRepo:
    root = tmp_path_factory.mktemp("indexed")
    path = root / "repo"
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    build_history(repo)

    indexed = IndexedRepo(path=path, data_dir=root / "data", embedder=embedder)
    store = Store(indexed.settings.store_uri, embedder)
    report = index_repository(store, path)
    assert report.commits_written == 14
    return indexed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    url: str
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def start_http_server(indexed: IndexedRepo, log_dir: Path, *args: str, **env: str) -> RunningServer:
    """Start `headstart serve --http` on a free loopback port and wait until /healthz returns 200."""
    port = free_port()
    stderr_path = log_dir / f"serve-{port}.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [HEADSTART, "serve", "--http", "--host", "127.0.0.1", "--port", str(port), *args],
            env=indexed.env(**env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = RunningServer(process=process, url=f"http://127.0.0.1:{port}", stderr_path=stderr_path)

    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"headstart serve exited with {process.returncode}:\n{server.stderr()}"
            )
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(
                f"headstart serve did not answer /healthz within 60 s:\n{server.stderr()}"
            )
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
