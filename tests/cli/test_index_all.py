"""`headstart index --all`: every configured repository in turn, a summary, and failures kept apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from headstart.cli.app import _register, app
from headstart.errors import InputError
from headstart.records import RecordKind
from headstart.store import Embedder, Store

pytestmark = pytest.mark.slow


@pytest.fixture
def repositories(git_repo, tmp_path: Path) -> dict:
    """Two small repositories, alpha with three commits and beta with two."""
    # Taken from the fixture, because `from conftest import GitRepo` may load another folder's conftest.
    git_repo_class = type(git_repo)
    made = {}
    for name, commits in (("alpha", 3), ("beta", 2)):
        (tmp_path / name).mkdir()
        repo = made[name] = git_repo_class(tmp_path / name)
        repo.git("init", "-q", "-b", "main")
        for number in range(commits):
            repo.commit(f"{name}: change {number}", {f"{name}/module.py": f"VALUE = {number}\n"})
    return made


def summary_rows(stdout: str) -> dict[str, list[str]]:
    """Map the source column of the summary table to the cells of its row."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.strip("│").split("│")]
            rows[cells[0]] = cells
    return rows


def write_config(path: Path, repositories: list[Path]) -> Path:
    entries = "".join(f'[[repositories]]\npath = "{repository}"\n\n' for repository in repositories)
    path.write_text(entries)
    return path


def test_broken_repository_skipped(
    repositories, tmp_path: Path, embedder: Embedder, monkeypatch
) -> None:
    alpha, beta = repositories["alpha"].path, repositories["beta"].path
    broken = tmp_path / "not-a-repository"
    broken.mkdir()
    config = write_config(tmp_path / "headstart.toml", [alpha, broken, beta])
    monkeypatch.setenv("HEADSTART_CONFIG", str(config))
    _register()
    runner = CliRunner()

    first = runner.invoke(app, ["index", "--all", "--db", str(tmp_path / "store")])

    assert first.exit_code == 1, first.output
    rows = summary_rows(first.stdout)
    assert rows[str(alpha)][2:4] == ["ok", "3"]
    assert rows[str(beta)][2:4] == ["ok", "2"]
    assert rows[str(broken)][1:4] == ["", "failed", "0"]
    assert f"{broken}: failed: {str(broken)!r} is not inside a git repository" in first.stdout
    assert first.stdout.rstrip().endswith("2 indexed, 0 busy, 1 failed.")

    store = Store(str(tmp_path / "store"), embedder)
    names = sorted(state.repo for state in store.repository_states())
    assert len(names) == 2
    for name, commits in zip(names, (3, 2), strict=True):
        assert len(store.keys(name, RecordKind.COMMIT.value)) == commits

    # The next run is incremental: only alpha's new commit is read.
    repositories["alpha"].commit("alpha: one more", {"alpha/module.py": "VALUE = 99\n"})

    second = runner.invoke(app, ["index", "--all", "--db", str(tmp_path / "store")])

    assert second.exit_code == 1, second.output
    rows = summary_rows(second.stdout)
    assert rows[str(alpha)][2:4] == ["ok", "1"]
    assert rows[str(beta)][2:4] == ["ok", "0"]


def test_all_needs_repositories(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "headstart.toml"
    config.write_text("max_tokens = 2000\n")
    monkeypatch.setenv("HEADSTART_CONFIG", str(config))
    _register()

    result = CliRunner().invoke(app, ["index", "--all", "--db", str(tmp_path / "store")])

    assert isinstance(result.exception, InputError)
    assert "no [[repositories]]" in str(result.exception)
    assert str(config) in str(result.exception)


def test_all_refuses_a_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(
        "HEADSTART_CONFIG", str(write_config(tmp_path / "headstart.toml", [tmp_path]))
    )
    _register()

    result = CliRunner().invoke(
        app, ["index", str(tmp_path), "--all", "--db", str(tmp_path / "store")]
    )

    assert isinstance(result.exception, InputError)
    assert "give no PATH" in str(result.exception)
