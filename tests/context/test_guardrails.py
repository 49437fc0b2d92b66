"""Guardrails and `check` on repositories with known co-change, fix, revert and rules patterns."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from headstart.config import Settings
from headstart.context.check_render import render_check_sarif
from headstart.context.render import render_markdown
from headstart.context.signals import time_weight
from headstart.indexers.pipeline import index_repository
from headstart.service import Headstart


@pytest.fixture
def coupled(git_repo):
    """api.py and schema.py change together 4 times out of 5; a fix adds a test; one revert."""
    repo = git_repo
    repo.write("AGENTS.md", "# Agents\n\nRun the test suite before committing.\n\n## API\n\nEvery api change needs a schema migration.\n")
    repo.write("src/api/AGENTS.md", "## Handlers\n\nHandlers in src/api must validate input with the schema module.\n")
    repo.write("CODEOWNERS", "# owners\n*.md @docs-team\nsrc/api/ @api-team @grace\n")
    repo.git("add", ".")
    repo.commit("Add agent rules and owners")
    for number in range(4):
        repo.commit(
            f"Extend the api with endpoint {number}",
            {"src/api/api.py": f"# v{number}\n", "src/api/schema.py": f"# s{number}\n"},
            author="Grace Hopper <grace@example.com>",
        )
    repo.commit("Tune api logging", {"src/api/api.py": "# logging\n"})
    repo.commit(
        "Fix api crash on empty body\n\nfixes #41",
        {"src/api/api.py": "# fixed\n", "tests/test_api.py": "def test_empty_body():\n    pass\n"},
    )
    bad = repo.commit("Stream api responses", {"src/api/api.py": "# streaming\n"})
    repo.commit(
        f"Revert \"Stream api responses\"\n\nThis reverts commit {bad}.\n\nStreaming broke the proxies.",
        {"src/api/api.py": "# fixed\n"},
    )
    return repo


@pytest.fixture
def service(coupled, store, tmp_path):
    index_repository(store, coupled.path)
    settings = Settings(data_dir=tmp_path / "data", db=str(tmp_path / "store"), co_change_min_shared=3)
    return Headstart(settings, store=store)


def test_check_reports_missing_co_change(service, coupled):
    result = service.check(["src/api/api.py"], repo=str(coupled.path))

    assert [item.files[1] for item in result.missing_co_changes] == ["src/api/schema.py"]
    item = result.missing_co_changes[0]
    assert item.message == "if you change `src/api/api.py`, `src/api/schema.py` changed with it in 4 of 8 commits"
    assert item.priority == "medium"
    assert item.evidence[0] == "4/8 commits"
    assert result.unmet_high_priority == 0


def test_check_with_both_files_is_clean(service, coupled):
    result = service.check(["src/api/api.py", "src/api/schema.py"], repo=str(coupled.path))

    assert result.missing_co_changes == []


def test_check_names_test_added_by_fix(service, coupled):
    result = service.check(["src/api/api.py"], repo=str(coupled.path))

    test = next(item for item in result.tests_to_run if item.files[0] == "tests/test_api.py")
    assert test.priority == "high"
    assert "fix for #41" in test.message
    assert "`tests/test_api.py::test_empty_body`" in test.message


def test_check_flags_revert_with_reason(service, coupled):
    result = service.check(["src/api/api.py"], repo=str(coupled.path))

    revert = next(item for item in result.fragile if item.kind == "revert")
    assert "was reverted 1 time, 1 in the last year" in revert.message
    assert "Streaming broke the proxies." in revert.message
    fragile = next(item for item in result.fragile if item.kind == "fragile")
    assert "had 1 bug-fix commit, the latest" in fragile.message


def test_changelog_is_not_fragile(git_repo, store, tmp_path):
    # Every fix adds a changelog line; that makes the changelog busy, not fragile.
    for number in range(3):
        git_repo.commit(
            f"Fix crash {number}",
            {"src/app.py": f"# fix {number}\n", "CHANGES.rst": f"- fixed crash {number}\n"},
        )
    index_repository(store, git_repo.path)
    service = Headstart(Settings(data_dir=tmp_path / "data", db=str(tmp_path / "store")), store=store)

    result = service.check(["src/app.py", "CHANGES.rst"], repo=str(git_repo.path))

    fragile = {item.files[0] for item in result.fragile if item.kind == "fragile"}
    assert fragile == {"src/app.py"}


def test_check_quotes_nearest_rules_first(service, coupled):
    result = service.check(["src/api/api.py"], repo=str(coupled.path), task="validate handler input")

    sources = [item.source for item in result.rules]
    assert sources[0] == "src/api/AGENTS.md"
    assert "AGENTS.md" in sources
    assert "validate input with the schema module" in result.rules[0].quote


def test_check_lists_owners(service, coupled):
    result = service.check(["src/api/api.py"], repo=str(coupled.path))

    owner = result.owners[0]
    assert "CODEOWNERS: @api-team, @grace" in owner.message
    assert "Grace Hopper <grace@example.com> (4 commits)" in owner.message


def test_brief_has_guardrails_section(service, coupled):
    brief = service.brief("add an api endpoint", repo=str(coupled.path))

    kinds = {item.kind for item in brief.guardrails}
    assert {"co_change", "test", "revert", "rule"} <= kinds
    assert "## Guardrails" in render_markdown(brief)
    priorities = [item.priority for item in brief.guardrails]
    assert priorities == sorted(priorities, key=["high", "medium", "low"].index)


def test_sarif_output_is_valid_shape(service, coupled):
    log = json.loads(render_check_sarif(service.check(["src/api/api.py"], repo=str(coupled.path))))

    assert log["version"] == "2.1.0"
    results = log["runs"][0]["results"]
    assert {result["ruleId"] for result in results} >= {"headstart/co_change", "headstart/test"}
    assert all(result["level"] in ("error", "warning", "note") for result in results)
    # Only a co-changed file left out is unmet; tests to run and the like are notes.
    advice = [result for result in results if result["ruleId"] != "headstart/co_change"]
    assert advice
    assert {result["level"] for result in advice} == {"note"}


def test_time_weight_favours_recent_fixes():
    from datetime import datetime, timezone

    first = datetime(2020, 1, 1, tzinfo=timezone.utc)
    last = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert time_weight(last, first, last) == pytest.approx(0.5)
    assert time_weight(first, first, last) == pytest.approx(1 / (1 + 2.718281828**12), rel=1e-3)


def test_check_cli_strict_exits_on_high_priority(coupled, store, tmp_path):
    index_repository(store, coupled.path)
    env = {"HEADSTART_DB": str(tmp_path / "store"), "HEADSTART_DATA_DIR": str(tmp_path / "data"),
           "HEADSTART_CO_CHANGE_MIN_SHARED": "3", "PATH": "/usr/bin:/bin"}
    # schema.py never changed without api.py: leaving api.py out is a high-priority miss.
    diff = "diff --git a/src/api/schema.py b/src/api/schema.py\n--- a/src/api/schema.py\n+++ b/src/api/schema.py\n@@ -1 +1 @@\n-# s3\n+# s4\n"
    command = [sys.executable, "-m", "headstart.cli", "check", "--repo", str(coupled.path), "--diff", "-", "--no-refresh"]

    loose = subprocess.run(command, input=diff, capture_output=True, text=True, env=env)
    strict = subprocess.run(command + ["--strict"], input=diff, capture_output=True, text=True, env=env)

    assert loose.returncode == 0, loose.stderr
    assert "`src/api/api.py` changed with it in 4 of 4 commits" in loose.stdout
    assert "1 high-priority co-change left out of this change." in loose.stdout
    assert strict.returncode == 1


def test_check_cli_says_it_indexed_a_new_repository(git_repo, tmp_path):
    git_repo.commit("Add the parser", {"parser.py": "def parse():\n    pass\n"})
    env = {"HEADSTART_DB": str(tmp_path / "store"), "HEADSTART_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "headstart.cli", "check", "--repo", str(git_repo.path), "--format", "json", "parser.py"]

    first = subprocess.run(command, capture_output=True, text=True, env=env, cwd=git_repo.path)
    second = subprocess.run(command, capture_output=True, text=True, env=env, cwd=git_repo.path)

    assert first.returncode == 0, first.stderr
    assert "note: caught up before this check:" in first.stderr
    assert "1 new commit was indexed" in first.stderr
    json.loads(first.stdout)
    assert "note:" not in second.stderr


def test_check_cli_rejects_bad_diff(coupled, tmp_path):
    env = {"HEADSTART_DB": str(tmp_path / "store"), "HEADSTART_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "headstart.cli", "check", "--repo", str(coupled.path), "--diff", "-"],
        input="not a diff", capture_output=True, text=True, env=env,
    )

    assert result.returncode == 2
    assert "the diff names no files" in result.stderr


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Fix api crash on empty body", True),
        ("fix(parser): handle tabs", True),
        ("secret key rotation: fix key list ordering", True),
        ("Handle a regression in the cache", True),
        ("Keep co-change, fix, revert and author counts", False),
        ('Revert "Fix api crash"', False),
        ("Add prefix fixtures", False),
        ("fix typo", False),
        ("Fix typos in the tutorial", False),
        ("docs: fix broken link to the API", False),
        ("docs(readme): fix crash example", False),
        ("Typo fixes", False),
        ("Fix lint", False),
        ("fix typing", False),
        ("Fix mypy errors in the CLI", False),
        ("fix(deps): update dependency qs to v6.14.2", False),
        ("fix (deps): update deps (#6337)", False),
        ("deps: cookie@0.6.0", False),
        ("5.0.0", False),
        ("examples: fix path traversal in downloads example", True),
        ("fix: bump qs minimum to ^6.14.2 for CVE-2026-2391 (#7057)", False),
        ("Fix crash when bumping the version counter twice", True),
        ("Fix crash when a typo in the config names no section", True),
        ("fix formatter crash on empty input", True),
    ],
)
def test_fix_subjects(subject, expected):
    from headstart.records import is_fix_commit

    assert is_fix_commit(subject, []) is expected


def test_docs_commit_closing_an_issue_is_no_fix():
    from headstart.records import LinkKind, is_fix_commit

    assert is_fix_commit("docs: update captains (closes #12)", [LinkKind.FIXES.value]) is False
    assert is_fix_commit("Handle empty bodies (closes #12)", [LinkKind.FIXES.value]) is True


def test_sweeping_fix_names_no_test(git_repo, store, tmp_path):
    git_repo.commit("Add the parser", {"lib/parser.rb": "# v1\n"})
    sweep = {f"lib/part{number}.rb": "# upgraded\n" for number in range(35)}
    git_repo.commit(
        "Upgrade to Rack 3\n\nCloses #1797",
        {**sweep, "lib/parser.rb": "# v2\n", "test/support/dummy_app.rb": "# app\n"},
    )
    git_repo.commit(
        "Fix parser crash on empty input\n\nfixes #12",
        {"lib/parser.rb": "# v3\n", "test/parser_test.rb": "def test_empty\nend\n"},
    )
    index_repository(store, git_repo.path)
    service = Headstart(Settings(data_dir=tmp_path / "data", db=str(tmp_path / "store")), store=store)

    result = service.check(["lib/parser.rb"], repo=str(git_repo.path))

    tests = [item.files[0] for item in result.tests_to_run]
    assert "test/parser_test.rb" in tests
    assert "test/support/dummy_app.rb" not in tests


def test_rules_quote_sections_about_the_task(git_repo, store, tmp_path):
    git_repo.write(
        "CONTRIBUTING.md",
        "# Contributing to Sinatra\n\nSinatra welcomes translations of the README.\n\n"
        "## Templates\n\nSinatra template changes need a test in test/templates_test.rb.\n\n"
        "## Love\n\nWant to show Sinatra some love? Star the project.\n",
    )
    git_repo.git("add", ".")
    git_repo.commit("Add the contributing guide")
    git_repo.commit("Add template lookup", {"templates.rb": "def find_template; end\n"})
    index_repository(store, git_repo.path)
    service = Headstart(Settings(data_dir=tmp_path / "data", db=str(tmp_path / "store")), store=store)

    result = service.check(["templates.rb"], repo=str(git_repo.path), task="look up templates in several folders")

    quotes = [item.quote for item in result.rules]
    assert "Sinatra template changes need a test in test/templates_test.rb." in quotes
    assert not any("love" in quote or "translations" in quote for quote in quotes)
    assert {item.priority for item in result.rules} == {"medium"}


def test_fragility_leaves_out_fixes_classified_before(git_repo, store):
    """A store indexed when "fix typo" counted as a fix: the guardrail no longer counts it."""
    from headstart.context.history import build_history
    from headstart.context.signals import fragility
    from headstart.indexers.pipeline import index_repository

    git_repo.commit("Add parser", {"app/parser.py": "def parse(): pass\n"})
    real = git_repo.commit("Fix parser crash on empty input", {"app/parser.py": "def parse(): return 1\n"})
    typo = git_repo.commit("Tidy parser docstring", {"app/parser.py": "def parse():\n    return 1\n"})
    report = index_repository(store, git_repo.path)
    view = build_history(store, report.plan.repo)
    stats = store.stats.file_stats(view.repo, ["app/parser.py"])[0]
    # As an older version of the rules would have stored it: the second commit counted too.
    stats.fix_shas.append(typo)
    stats.fix_times.append(view.change_for_target(f"commit:{typo}").created_at)
    view.changes[view.by_target[f"commit:{typo}"]].title = "fix typo in parser docstring"
    store.stats.file_stats = lambda repo, paths: [stats]

    result = fragility(store, view, "app/parser.py")

    assert [change.key for change in result.fixes] == [real]


def test_owners_leave_out_bots(git_repo, store, tmp_path):
    bot = "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>"
    for version in range(3):
        git_repo.commit(f"Bump serde to 1.0.{version}", {"Cargo.toml": f"serde = \"1.0.{version}\"\n"}, author=bot)
    git_repo.commit("Add clap", {"Cargo.toml": "clap = \"4\"\n"})
    git_repo.commit("Add regex", {"Cargo.toml": "regex = \"1\"\n"})
    git_repo.commit("Add ignore", {"Cargo.toml": "ignore = \"0.4\"\n"}, author="Grace Hopper <grace@example.com>")
    index_repository(store, git_repo.path)
    service = Headstart(Settings(data_dir=tmp_path / "data", db=str(tmp_path / "store")), store=store)

    result = service.check(["Cargo.toml"], repo=str(git_repo.path))

    assert result.owners[0].message == (
        "ask about `Cargo.toml`: most active recently: "
        "Ada Lovelace <ada@example.com> (2 commits), Grace Hopper <grace@example.com> (1 commit)"
    )
    assert result.owners[0].evidence == ["2 commits", "1 commit"]


def test_owners_behind_a_recent_bot_are_named(git_repo, store, tmp_path):
    def commit_at(when: str, message: str, content: str, author: str) -> None:
        git_repo.write("Cargo.toml", content)
        git_repo.git("add", "Cargo.toml")
        environment = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        subprocess.run(
            ["git", "commit", "-q", "-m", message, "--author", author],
            cwd=git_repo.path, env=environment, check=True,
        )

    bot = "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>"
    commit_at("2023-01-10T10:00:00Z", "Add clap", "clap = \"4\"\n", "Ada Lovelace <ada@example.com>")
    for month in range(3):
        commit_at(f"2025-0{month + 1}-10T10:00:00Z", f"Bump clap to 4.{month}", f"clap = \"4.{month}\"\n", bot)
    index_repository(store, git_repo.path)
    service = Headstart(Settings(data_dir=tmp_path / "data", db=str(tmp_path / "store")), store=store)

    result = service.check(["Cargo.toml"], repo=str(git_repo.path))

    assert result.owners[0].message == (
        "ask about `Cargo.toml`: most active recently: Ada Lovelace <ada@example.com> (1 commit)"
    )
