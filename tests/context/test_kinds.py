"""The kind of file a task's commit-type prefix points at, and the ranking of those files."""

from __future__ import annotations

import pytest

from headstart.config import Settings
from headstart.context.kinds import CI, DOCS, TEST, files_of_kind, rank_kind, task_kind
from headstart.indexers.pipeline import index_repository
from headstart.service import Headstart


@pytest.mark.parametrize(
    ("task", "kind"),
    [
        ("CI: add Rack 3.1.x jobs", CI),
        ("ci(test): run the suite on Windows", CI),
        ("test: fix typos in test descriptions", TEST),
        ("chore(test): remove promise support check from tests", TEST),
        ("fix(docs): update guidance for triager nominations", DOCS),
        ("doc: explain --max-depth", DOCS),
        ("README: link the changelog", DOCS),
        ("fix(router, tests): keep params", TEST),
        ("fix: crash on empty token", None),
        ("printer: trim trailing spaces", None),
        ("Add tests for the CI job", None),
        ("Update docs", None),
    ],
)
def test_task_kind_reads_the_prefix(task: str, kind: str | None) -> None:
    assert task_kind(task) == kind


HEAD = {
    ".github/workflows/test.yml", ".github/workflows/release.yml", ".github/workflows/CODEOWNERS", ".travis.yml", "Gemfile",
    "lib/app.rb", "test/app_test.rb", "test/helper_test.rb", "README.md", "docs/guide.rst",
    "CHANGES.md", "src/history.py",
}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        # Ranked by the other rankings first (release.yml), then by how often they changed.
        (CI, [".github/workflows/release.yml", ".github/workflows/test.yml", ".travis.yml"]),
        (TEST, ["test/helper_test.rb", "test/app_test.rb"]),
        # The changelog is no documentation a task edits: it has a guardrail of its own.
        (DOCS, ["README.md", "docs/guide.rst"]),
    ],
)
def test_rank_kind_keeps_the_fused_order(kind: str, expected: list[str]) -> None:
    order = [".github/workflows/release.yml", "lib/app.rb", "test/helper_test.rb"]
    position = {path: rank for rank, path in enumerate(order)}
    changes = {".github/workflows/test.yml": 9, ".travis.yml": 2, "test/app_test.rb": 4, "README.md": 7, "docs/guide.rst": 1}

    ranked = rank_kind(files_of_kind(kind, HEAD), position, lambda path: changes.get(path, 0), limit=10)

    assert ranked == expected
    assert rank_kind(files_of_kind(kind, HEAD), position, lambda path: changes.get(path, 0), limit=1) == expected[:1]


def test_rank_kind_without_matches() -> None:
    assert files_of_kind(CI, ["lib/app.rb", "README.md"]) == []
    assert rank_kind([], {"lib/app.rb": 0}, lambda path: 0, limit=10) == []


def test_brief_ranks_ci_workflow(git_repo, store, tmp_path) -> None:
    git_repo.commit("Add the app", {"lib/app.rb": "class App; end\n", "test/app_test.rb": "t = 1\n"})
    git_repo.commit("Run the suite on push", {".github/workflows/test.yml": "on: push\n"})
    for number in range(6):
        git_repo.commit(f"Support Ruby 3.{number} in the app", {"lib/app.rb": f"RUBY = '3.{number}'\n", "test/app_test.rb": f"t = {number}\n"})
    index_repository(store, git_repo.path)
    service = Headstart(Settings(data_dir=tmp_path / "data", db=str(tmp_path / "store")), store=store)

    plain = service.brief("Support Ruby 4.0", repo=str(git_repo.path))
    prefixed = service.brief("CI: test with Ruby 4.0", repo=str(git_repo.path))

    assert ".github/workflows/test.yml" not in [item.path for item in plain.likely_files[:2]]
    workflow = next(item for item in prefixed.likely_files if item.path == ".github/workflows/test.yml")
    assert prefixed.likely_files.index(workflow) < 2
    assert "a CI configuration file, the kind of file the task's prefix names" in workflow.reasons
