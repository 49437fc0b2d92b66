"""`headstart history` run as a user runs it: a file's changes a page at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_headstart as headstart

pytestmark = pytest.mark.slow


def test_history_pages_a_file_and_rejects_unknown_path(git_repo, tmp_path: Path) -> None:
    git_repo.commit("Add session store", {"app/session.py": "a = 1\n", "README.md": "x\n"})
    git_repo.commit(
        "Fix session expiry", {"app/session.py": "a = 2\n", "tests/test_session.py": "t\n"}
    )
    git_repo.commit(
        "Rename the session module", {"app/session.py": None, "app/sessions.py": "a = 2\n"}
    )
    store = str(tmp_path / "store")
    data = tmp_path / "data"
    indexed = headstart("index", str(git_repo.path), "--db", store, data=data)
    assert indexed.returncode == 0, indexed.stderr

    first = headstart(
        "history",
        "app/sessions.py",
        "--repo",
        str(git_repo.path),
        "--db",
        store,
        "--limit",
        "2",
        data=data,
    )
    second = headstart(
        "history",
        "app/session.py",
        "--repo",
        str(git_repo.path),
        "--db",
        store,
        "--offset",
        "2",
        data=data,
    )
    unknown = headstart(
        "history", "app/nope.py", "--repo", str(git_repo.path), "--db", store, data=data
    )

    assert first.returncode == 0, first.stderr
    assert "# History of `app/sessions.py`" in first.stdout
    assert ": 1–2 of 3 changes" in first.stdout
    assert '"Rename the session module"' in first.stdout
    assert '"Fix session expiry"' in first.stdout
    assert "with `tests/test_session.py`" in first.stdout
    assert "pull_request:" not in first.stdout
    assert "More: --offset 2" in first.stdout
    # The old name finds the history under the name at the indexed head.
    assert second.returncode == 0, second.stderr
    assert '"Add session store"' in second.stdout
    assert "More:" not in second.stdout
    assert unknown.returncode == 2
    assert "'app/nope.py' has no history" in unknown.stderr
