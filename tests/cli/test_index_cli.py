"""`headstart index` run as a user runs it: exit codes, stdout and stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def headstart(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from headstart.cli import main; main()", *arguments],
        cwd=cwd,
        env={**os.environ, "HEADSTART_CONFIG": os.devnull},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_not_a_repository(tmp_path: Path) -> None:
    folder = tmp_path / "just files"
    folder.mkdir()

    result = headstart("index", str(folder), "--db", str(tmp_path / "store"))

    assert result.returncode == 2
    assert result.stdout == ""
    assert f"error: {str(folder)!r} is not inside a git repository" in result.stderr
    assert "indexing" not in result.stderr


def test_missing_path(tmp_path: Path) -> None:
    result = headstart("index", str(tmp_path / "nowhere"), "--db", str(tmp_path / "store"))

    assert result.returncode == 2
    assert "nowhere" in result.stderr
    assert "does not exist" in result.stderr


def test_dry_run_writes_nothing(git_repo, tmp_path: Path) -> None:
    for number in range(4):
        git_repo.commit(f"change {number} (#{number + 1})", {"f.txt": f"{number}\n"})
    store = tmp_path / "store"

    result = headstart("index", str(git_repo.path), "--db", str(store), "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "4 commits to index (up to 4 of them land pull requests)" in result.stdout
    assert "estimated time" in result.stdout
    assert not store.exists() or not any(store.iterdir())


def test_progress_on_stderr(git_repo, tmp_path: Path) -> None:
    for number in range(3):
        git_repo.commit(f"change {number}", {"f.txt": f"{number}\n"})

    result = headstart("index", "--db", str(tmp_path / "store"), cwd=git_repo.path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        line for line in result.stdout.splitlines() if line.startswith(f"{git_repo.path}: indexed 3 new commits")
    ]
    assert len(result.stdout.splitlines()) == 1
    assert "indexing" in result.stderr
    assert "3/3 commits" in result.stderr

    again = headstart("index", "--db", str(tmp_path / "store"), cwd=git_repo.path)
    planned = headstart("index", "--db", str(tmp_path / "store"), "--dry-run", cwd=git_repo.path)

    head = git_repo.git("rev-parse", "HEAD")[:10]
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"{git_repo.path}: up to date at {head}; nothing to index.\n"
    assert "indexing" not in again.stderr
    assert "0/0" not in again.stderr
    assert planned.stdout == again.stdout


def test_file_instead_of_folder(git_repo, tmp_path: Path) -> None:
    git_repo.commit("Add the manifest", {"Cargo.toml": "[package]\n"})
    manifest = git_repo.path / "Cargo.toml"
    store = tmp_path / "store"

    result = headstart("index", str(manifest), "--db", str(store))

    assert result.returncode == 2
    assert result.stderr == (
        f"error: {str(manifest)!r} is a file, not a folder; pass the repository's folder: "
        f"`headstart index {git_repo.path}`\n"
    )
    assert not store.exists()
