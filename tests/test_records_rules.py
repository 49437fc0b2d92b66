"""The shared rules of records.py: which paths are changelogs and which commits fixed a bug."""

from __future__ import annotations

import pytest

from headstart.records import LinkKind, is_changelog, is_fix_commit

FIXES = [LinkKind.FIXES.value]


@pytest.mark.parametrize(
    "path",
    [
        "CHANGES",
        "CHANGES.rst",
        "CHANGES.md",
        "CHANGELOG",
        "CHANGELOG.md",
        "ChangeLog",
        "History.md",
        "History.rdoc",
        "HISTORY.rst",
        "NEWS",
        "NEWS.rst",
        "NEWS.txt",
        "changelog.txt",
        "docs/changelog.rst",
        "docs/changes.md",
        "doc/whatsnew.rst",
        "RELEASE-NOTES.md",
        "release_notes.adoc",
        "debian/changelog",
        "rack-protection/CHANGELOG.md",
        "docs/whatsnew/3.1.rst",
        "doc/news/v2.rst",
        "changelog.d/123.fixed.md",
        "changelog.d/123.bugfix",
        "newsfragments/42.feature.rst",
        "newsfragments/42.feature",
        ".changeset/brave-cats.md",
        "Misc/NEWS.d/next/Library/2024-01-01-12-00-00.gh-issue-1234.abcdef.rst",
        "changes/1234.bugfix.rst",
        "changes/1234.bugfix",
        "news/5.feature.md",
        "news/requests.vendor",
        "changelog/11233.improvement.rst",
        "release-notes/v1.2.md",
    ],
)
def test_changelogs(path):
    assert is_changelog(path)


@pytest.mark.parametrize(
    "path",
    [
        "src/headstart/context/history.py",
        "src/headstart/cli/history.py",
        "lib/history.js",
        "src/history.ts",
        "app/models/news.rb",
        "src/changes.rs",
        "crates/core/changelog.go",
        "history/__init__.py",
        "news/models.py",
        "news/views.py",
        "news/templates/news/article_list.html",
        "news/migrations/0001_initial.py",
        "src/changes/diff.js",
        "changelog/generate.py",
        "release-notes/build.sh",
        "tests/test_history.py",
        "docs/history.html",
        "src/changer.py",
        "HISTORY.json",
        "",
    ],
)
def test_not_changelogs(path):
    assert not is_changelog(path)


@pytest.mark.parametrize(
    ("title", "kinds", "body", "expected"),
    [
        # Features that close an issue or a feature request (click, fd).
        ("Add support of `pathlib.Path` to `edit`", FIXES, "Closes #2869", False),
        ("Add hyperlink support to fd", FIXES, "Fixes: #1295\nFixes: #1563", False),
        ("feat: add --ignore-parent option to override --no-ignore-parent", FIXES, "Closes #1958", False),
        ("feat(router): support regex routes (fixes #88)", FIXES, "", False),
        ("Implement --type executable on Windows", FIXES, "Fixes #1051.", False),
        ("Allow working directory to be nonexistent if search path is given", FIXES, "Fixes #1072", False),
        ("Introduce maximum output buffer size (#212)", FIXES, "Closes #191", False),
        ("Enable --strip-cwd-prefix by default except with -0", FIXES, "Fixes #1046.", False),
        ("New option to print absolute paths", FIXES, "closes #10", False),
        ("cli: add --json output", FIXES, "Resolves #301", False),
        # Feature verbs that also name a fault stay fixes.
        ("Add missing null check to fix crash on empty input (#7)", FIXES, "", True),
        ("Add guard against regression in header parsing", FIXES, "Closes #5", True),
        ("fix: add missing await in the router", [], "", True),
        # Linter and review rounds (fd).
        ("fix: New clippy warnings", [], "", False),
        ("Fixes for tmccombs review comments.", [], "", False),
        ("fix: address review comments - use into_os_string()", [], "", False),
        ("Fix some clippy warnings", [], "", False),
        ("filesystem: Fix a clippy warning about lifetime elision", [], "", False),
        ("Fix compiler warnings on nightly", [], "", False),
        ("Apply suggestions from code review", [], "", False),
        # Closing keywords without a fault in the subject.
        ("Update --size documentation", FIXES, "closes #584", False),
        ("tests: use random port in listen test", FIXES, "closes #5162", False),
        ("Handle empty bodies (closes #12)", FIXES, "", False),
        ("Change time comparisons to exclusive", FIXES, "Resolves #794", False),
        # Real fixes.
        ("Fix crash when the config file is empty", [], "", True),
        ("fix(router): handle trailing slashes in mounted paths (#123)", [], "", True),
        ("Handle empty path (fixes #12)", FIXES, "", True),
        ("Handle empty path", FIXES, "Fixes #12", True),
        ("Resolve deadlock in the worker pool, closes #99", FIXES, "", True),
        ("Restore progressbar iterator interface; add test", FIXES, "closes #1125", True),
        ("Do not trigger a `BytesWarning` under `python -bb`", FIXES, "Closes #2877", True),
        ("Raise a clear error for an unknown option", FIXES, "Closes #44", True),
        ("Skip broken symlinks while walking", FIXES, "Resolves #8", True),
        ("Land the progress bar on its final position", ["fixes_commit"], "Fixes: 0123abcd", True),
        # A subject alone must name the fix, and a revert is counted as a revert.
        ("Correct the byte count of multi-byte names", [], "", False),
        ('Revert "Fix api crash"', [], "", False),
    ],
)
def test_fix_commits(title, kinds, body, expected):
    assert is_fix_commit(title, kinds, body) is expected


def test_issue_link_without_body():
    """Indexing has no body, so an issue link counts. At query time the body decides."""
    assert is_fix_commit("Handle empty bodies", FIXES) is True
    assert is_fix_commit("Handle empty bodies", FIXES, "Closes #12") is False
    assert is_fix_commit("Handle empty bodies", FIXES, "Fixes #12") is True
    # A feature or a linter round is no fix, body or not.
    assert is_fix_commit("Add hyperlink support to fd", FIXES) is False
    assert is_fix_commit("fix: New clippy warnings", []) is False


def test_subject_keywords_without_links():
    """The ledger's reports pass subjects only, so a "(fixes #12)" suffix is read from the subject."""
    assert is_fix_commit("Handle empty path (fixes #12)", ()) is True
    assert is_fix_commit("Update the readme (closes #12)", ()) is False
    assert is_fix_commit("Add a --json flag (fixes #12)", ()) is False


def test_fragility_reads_commit_body(git_repo, store):
    """Indexing counts every issue link; the guardrail keeps only the commits that fixed a bug."""
    from headstart.context.history import build_history
    from headstart.context.signals import fragility
    from headstart.indexers.pipeline import index_repository

    git_repo.commit("Add the pager", {"src/pager.py": "def page(): pass\n"})
    git_repo.commit("Support incremental output in the pager\n\nCloses #3242", {"src/pager.py": "# v2\n"})
    git_repo.commit("Tidy the pager\n\nCloses #3300", {"src/pager.py": "# v3\n"})
    git_repo.commit("fix: New clippy warnings", {"src/pager.py": "# v4\n"})
    real = git_repo.commit("Handle an empty pager\n\nFixes #3310", {"src/pager.py": "# v5\n"})
    hang = git_repo.commit("Do not hang when the pager exits early\n\nCloses #3320", {"src/pager.py": "# v6\n"})
    report = index_repository(store, git_repo.path)
    view = build_history(store, report.plan.repo)

    result = fragility(store, view, "src/pager.py")

    assert [change.key for change in result.fixes] == [hang, real]


def test_brief_lists_history_module(git_repo, store, tmp_path):
    """A source file named history.py is a likely file of a brief, and CHANGES.rst is the changelog."""
    from headstart.config import Settings
    from headstart.indexers.pipeline import index_repository
    from headstart.service import Headstart

    changes = ["Cache the history page", "Page the history of a file", "Sort the history page by date"]
    for number, title in enumerate(changes):
        git_repo.commit(title, {"src/app/history.py": f"VERSION = {number}\n", "CHANGES.rst": f"- {title}\n"})
    git_repo.commit("Add the billing module", {"src/app/billing.py": "def charge(): pass\n"})
    index_repository(store, git_repo.path)
    service = Headstart(Settings(data_dir=tmp_path / "data", db=str(tmp_path / "store")), store=store)

    brief = service.brief("Speed up reading a file's history page", repo=str(git_repo.path))

    paths = [item.path for item in brief.likely_files]
    assert paths[0] == "src/app/history.py"
    assert "CHANGES.rst" not in paths
    changelogs = [item.files for item in brief.guardrails if item.message.startswith("update the changelog")]
    assert changelogs == [["CHANGES.rst"]]
