"""A file's history before a rename counts for the file under its name at the head."""

from __future__ import annotations

import json

import pytest

from headstart.config import Settings
from headstart.context.history import build_history
from headstart.context.renames import current_names, renames_in
from headstart.indexers.pipeline import index_repository
from headstart.service import Headstart


def changes(*entries: tuple[str, str] | tuple[str, str, str]) -> str:
    """JSON of file changes as the index stores them: (status, path[, old path])."""
    rows = []
    for entry in entries:
        row = {"status": entry[0], "path": entry[1]}
        if len(entry) == 3:
            row["old_path"] = entry[2]
        rows.append(row)
    return json.dumps(rows)


def test_renames_in_reads_detected_renames() -> None:
    assert renames_in(changes(("R", "lib/new.py", "lib/old.py"), ("M", "README.md"))) == [("lib/old.py", "lib/new.py")]


def test_renames_in_pairs_moved_files_by_name() -> None:
    moved = changes(
        ("D", "flask/__init__.py"),
        ("D", "flask/json/__init__.py"),
        ("D", "flask/app.py"),
        ("A", "src/flask/__init__.py"),
        ("A", "src/flask/json/__init__.py"),
        ("A", "src/flask/app.py"),
    )

    assert sorted(renames_in(moved)) == [
        ("flask/__init__.py", "src/flask/__init__.py"),
        ("flask/app.py", "src/flask/app.py"),
        ("flask/json/__init__.py", "src/flask/json/__init__.py"),
    ]


def test_renames_in_skips_ambiguous_and_unmatched_names() -> None:
    # Two added files share the deleted file's name and folder depth: neither is picked.
    ambiguous = changes(("D", "old/util.py"), ("A", "a/util.py"), ("A", "b/util.py"))
    unmatched = changes(("D", "old/util.py"), ("A", "new/helpers.py"))
    modified = changes(("M", "util.py"))

    assert renames_in(ambiguous) == []
    assert renames_in(unmatched) == []
    assert renames_in(modified) == []


def test_current_names_follows_chains_to_head() -> None:
    head = {"c.py", "b2.py"}
    renames = [("a.py", "b.py"), ("b.py", "c.py"), ("x.py", "b2.py")]

    assert current_names(renames, head.__contains__) == {"a.py": "c.py", "b.py": "c.py", "x.py": "b2.py"}


def test_current_names_keeps_recreated_and_lost_paths() -> None:
    head = {"a.py", "kept.py"}
    # a.py moved away and was created again; gone.py moved to a file later deleted; a cycle.
    renames = [("a.py", "moved.py"), ("gone.py", "deleted.py"), ("p.py", "q.py"), ("q.py", "p.py")]

    assert current_names(renames, head.__contains__) == {}


def billing_history(git_repo, moved_files: int) -> None:
    """Billing code with a known history, then moved under src/ with `moved_files` other files."""
    git_repo.commit("Add invoice rounding", {"billing/invoice.py": "def total(): pass\n", "README.md": "demo\n"})
    git_repo.commit("Fix invoice rounding of negative totals", {"billing/invoice.py": "def total(): return 0\n"})
    git_repo.commit("Round invoice totals half even", {"billing/invoice.py": "def total(): return 1\n"})
    others = {f"billing/page{number}.py": f"PAGE = {number}\n" for number in range(moved_files)}
    git_repo.commit("Add pages", others)
    move = {"billing/invoice.py": None, "src/billing/invoice.py": "def total(): return 1\n"}
    for path, content in others.items():
        move[path] = None
        move["src/" + path] = content
    git_repo.commit("Move the package under src", move)
    git_repo.commit("Document the layout", {"README.md": "demo, code in src\n"})


@pytest.mark.parametrize("moved_files", [0, 40], ids=["detected", "paired_by_name"])
def test_brief_counts_history_from_before_move(git_repo, store, tmp_path, moved_files: int) -> None:
    billing_history(git_repo, moved_files)
    index_repository(store, git_repo.path, workers=1)
    service = Headstart(Settings(data_dir=tmp_path / "data", db=str(tmp_path / "store")), store=store)

    brief = service.brief("invoice rounding of totals is wrong", repo=str(git_repo.path))
    history = service.file_history("src/billing/invoice.py", repo=str(git_repo.path))
    by_old_name = service.file_history("billing/invoice.py", repo=str(git_repo.path))

    assert brief.likely_files[0].path == "src/billing/invoice.py"
    assert all(entry.path != "billing/invoice.py" for entry in brief.likely_files)
    assert any("most similar past changes" in reason for reason in brief.likely_files[0].reasons)
    titles = [item.title for item in history.items]
    assert "Fix invoice rounding of negative totals" in titles
    assert "Add invoice rounding" in titles
    assert by_old_name.path == "src/billing/invoice.py"
    assert [item.title for item in by_old_name.items] == titles


def test_recorded_history_keeps_paths_commits_named(git_repo, store) -> None:
    billing_history(git_repo, 0)
    report = index_repository(store, git_repo.path, workers=1)

    followed = build_history(store, report.plan.repo)
    recorded = build_history(store, report.plan.repo, follow_renames=False)

    assert len(followed.by_file["src/billing/invoice.py"]) == 4
    assert "billing/invoice.py" not in followed.by_file
    assert len(recorded.by_file["src/billing/invoice.py"]) == 1
    assert len(recorded.by_file["billing/invoice.py"]) == 3
    assert recorded.aliases == {}
