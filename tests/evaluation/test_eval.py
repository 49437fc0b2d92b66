"""The evaluation end to end on a repository whose expected files are known."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pygit2
import pytest

from headstart.evaluation import EvalOptions, run_evaluation, write_report
from headstart.evaluation.baselines import FileContentRanker
from headstart.evaluation.cut import (
    choose_cut,
    is_changelog,
    list_tasks,
    parse_cut_date,
    skip_reason,
    spread,
)
from headstart.evaluation.metrics import margin, score_ranking
from headstart.evaluation.report import _references_line
from headstart.evaluation.runner import EvalReport
from headstart.indexers.repository import open_repository
from headstart.store import Embedder, Store

pytestmark = pytest.mark.slow


def _root_git_repo_class():
    # Loaded by path, because `from conftest import …` may find another folder's conftest.
    path = Path(__file__).parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("headstart_tests_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GitRepo


GitRepo = _root_git_repo_class()

AREAS = {
    "billing": (["billing/invoice.py", "billing/tax.py"], "invoice tax amount currency rounding ledger"),
    "search": (["search/index.py", "search/query.py"], "query tokenizer inverted index posting stemming"),
    "auth": (["auth/login.py", "auth/session.py"], "login password session cookie token expiry"),
}
# Most recent first at the cut: the history ends with auth, search, billing (see build_history).
RECENT_AT_CUT = [
    "auth/login.py", "auth/session.py", "search/index.py", "search/query.py",
    "billing/invoice.py", "billing/tax.py", "CHANGES.rst", "README.md", "setup.py",
]


def build_history(git_repo) -> dict[str, str]:
    """Make 31 commits in three areas, cut there, then nine later changes; return named shas."""
    shas: dict[str, str] = {}
    git_repo.commit("Start the project", {"README.md": "demo\n", "CHANGES.rst": "Changes\n=======\n", "setup.py": "version = '1.0'\n"})
    for round_number in range(10):
        for area in ("billing", "search", "auth"):
            files, words = AREAS[area]
            subject = f"Rework {area} {words.split()[round_number % 6]} handling, step {round_number}"
            if area == "billing" and round_number == 4:
                subject = "Round invoice tax amounts (#5)"
            git_repo.commit(subject, {path: f"# {words}\n" * (round_number + 1) + f"# {path}\n" for path in files})
    shas["cut"] = git_repo.head()

    shas["fix"] = git_repo.commit(
        "Fix invoice tax rounding\n\nFixes #5",
        {"billing/invoice.py": "# invoice rounding fixed\n", "billing/tax.py": "# tax rounding fixed\n", "CHANGES.rst": "- invoice rounding\n"},
    )
    shas["search"] = git_repo.commit(
        "Improve search query tokenizer", {"search/query.py": "# better query tokenizer\n", "search/stemmer.py": "# new\n"}
    )
    shas["bot"] = git_repo.commit(
        "Update requirements", {"requirements.txt": "pytest\n"}, author="dependabot[bot] <support@github.com>"
    )
    shas["bump"] = git_repo.commit("Bump version to 1.2.3", {"setup.py": "version = '1.2.3'\n"})
    shas["auth"] = git_repo.commit(
        "Expire login session cookie", {"auth/login.py": "# cookie expiry\n", "auth/session.py": "# session expiry\n"}
    )
    git_repo.git("revert", "--no-edit", shas["auth"])
    shas["revert"] = git_repo.head()
    shas["big"] = git_repo.commit("Add generated fixtures", {f"fixtures/f{number}.txt": f"{number}\n" for number in range(30)})
    shas["squash"] = git_repo.commit("Add invoice currency field (#42)", {"billing/invoice.py": "# invoice currency\n"})

    git_repo.git("checkout", "-q", "-b", "search-speed")
    git_repo.commit("Parse query once", {"search/query.py": "# query parsed once\n"})
    git_repo.git("checkout", "-q", "main")
    git_repo.git(
        "merge", "--no-ff", "-q", "search-speed",
        "-m", "Merge pull request #7 from ada/search-speed", "-m", "Speed up search query parsing",
    )
    shas["merge"] = git_repo.head()
    return shas


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[GitRepo, dict[str, str]]:
    path = tmp_path_factory.mktemp("eval") / "repo"
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    return repo, build_history(repo)


@pytest.fixture(scope="module")
def evaluated(history, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> tuple[EvalReport, dict[str, str], Path]:
    """Evaluate once per module, cut where the 31 commits of history end."""
    repo, shas = history
    folder = tmp_path_factory.mktemp("evaluated")
    options = EvalOptions(repo=repo.path, cut_rev=shas["cut"], max_tokens=1500, co_change_anchors=3)
    report = run_evaluation(options, Store(str(folder / "store"), embedder))
    write_report(report, folder / "out")
    return report, shas, folder / "out"


def test_eval_tasks_and_expected_files(evaluated) -> None:
    report, shas, _ = evaluated
    tasks = {result.task.sha: result.task for result in report.results}

    assert report.cut == shas["cut"]
    assert list(tasks) == [shas["fix"], shas["search"], shas["auth"], shas["squash"], shas["merge"]]
    assert tasks[shas["fix"]].expected == ["billing/invoice.py", "billing/tax.py"]
    assert tasks[shas["fix"]].changelog_files == ["CHANGES.rst"]
    assert tasks[shas["search"]].expected == ["search/query.py"]
    assert tasks[shas["search"]].new_files == ["search/stemmer.py"]
    assert tasks[shas["auth"]].expected == ["auth/login.py", "auth/session.py"]
    assert tasks[shas["squash"]].text == "Add invoice currency field"
    assert tasks[shas["squash"]].pull_request == "#42"
    assert tasks[shas["merge"]].text == "Speed up search query parsing"
    assert tasks[shas["merge"]].expected == ["search/query.py"]
    assert tasks[shas["fix"]].references == ["issue:#5"]


def test_eval_skips_with_reasons(evaluated) -> None:
    report, shas, _ = evaluated
    reasons = {skipped.sha: skipped.reason for skipped in report.skipped}

    assert reasons == {
        shas["bot"]: "bot author",
        shas["bump"]: "version bump",
        shas["revert"]: "revert",
        shas["big"]: "changes 30 files (more than 20)",
    }
    assert report.later_changes == 9
    assert report.tasks_eligible == 5


def test_eval_recall_exact(evaluated) -> None:
    report, shas, _ = evaluated
    results = {result.task.sha: result for result in report.results}
    fix = results[shas["fix"]]

    # The recency baseline ignores the task: billing files sit at ranks 5 and 6 at the cut.
    assert fix.rankings["recent"] == RECENT_AT_CUT
    assert fix.scores["recent"].recall_at(1) == 0.0
    assert fix.scores["recent"].recall_at(5) == 0.5
    assert fix.scores["recent"].recall_at(10) == 1.0
    assert fix.scores["recent"].reciprocal_rank == 0.2
    assert fix.scores["recent"].hit_at_5 is True
    assert fix.scores["recent"].all_found_at_10 is True
    # Only the billing files speak of invoices and tax, so every text ranker puts them first.
    for name in ("headstart", "bm25_contents", "bm25_messages"):
        assert set(fix.rankings[name][:2]) == {"billing/invoice.py", "billing/tax.py"}, name
        assert fix.scores[name].recall_at(1) == 0.5, name
        assert fix.scores[name].recall_at(5) == 1.0, name
        assert fix.scores[name].reciprocal_rank == 1.0, name

    auth = results[shas["auth"]]
    assert auth.scores["recent"].recall_at(1) == 0.5
    assert auth.scores["recent"].reciprocal_rank == 1.0
    assert report.summary["recent"].recall_at(1) == pytest.approx((0 + 0 + 0.5 + 0 + 0) / 5)
    assert report.summary["recent"].mrr == pytest.approx((1 / 5 + 1 / 4 + 1 + 1 / 5 + 1 / 4) / 5)


def test_eval_margins_pair_the_tasks(evaluated) -> None:
    report, _, _ = evaluated

    assert set(report.margins) == {"bm25_contents", "bm25_messages", "recent"}
    for name, found in report.margins.items():
        differences = [result.scores["headstart"].recall_at(10) - result.scores[name].recall_at(10) for result in report.results]
        assert found.difference == pytest.approx(sum(differences) / len(differences)), name
        assert found.low <= found.difference <= found.high, name
        assert min(differences) <= found.low, name
        assert found.high <= max(differences), name


def test_margin_interval() -> None:
    def scores(recall_at_10: float):
        return score_ranking(["a.py", "b.py"][: int(recall_at_10 * 2)], ["a.py", "b.py"])

    same = margin([scores(1.0), scores(0.5)], [scores(1.0), scores(0.5)])
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0)

    # Every task gains half: resampling the tasks cannot move the margin.
    steady = margin([scores(1.0)] * 4, [scores(0.5)] * 4)
    assert (steady.difference, steady.low, steady.high) == (0.5, 0.5, 0.5)

    # One task in four gains everything: the margin is 0.25, and its interval is close to the
    # normal approximation, 0.25 ± 1.96 standard errors of a mean of 40 such tasks.
    ours = [scores(1.0), scores(0.5), scores(0.5), scores(0.5)] * 10
    theirs = [scores(0.0), scores(0.5), scores(0.5), scores(0.5)] * 10
    mixed = margin(ours, theirs)
    spread = 1.96 * (0.25 * 0.75 / 40) ** 0.5
    assert mixed.difference == pytest.approx(0.25)
    assert mixed.low == pytest.approx(0.25 - spread, abs=0.03)
    assert mixed.high == pytest.approx(0.25 + spread, abs=0.03)
    assert margin(ours, theirs) == mixed  # seeded: the same tasks give the same interval

    with pytest.raises(ValueError, match="same tasks on both sides, not 2 and 1"):
        margin([scores(1.0), scores(1.0)], [scores(1.0)])


def test_eval_co_change_and_references(evaluated) -> None:
    report, shas, _ = evaluated
    fix = next(result for result in report.results if result.task.sha == shas["fix"])

    # Two tasks change two files each, and each file is asked about once.
    assert report.co_change.queries == 4
    assert [query.anchor for query in fix.co_change] == ["billing/invoice.py", "billing/tax.py"]
    assert fix.co_change[0].suggestions[0] == "billing/tax.py"
    assert report.co_change.top3_hit == 1.0
    assert fix.co_change[0].history_suggestions == ["billing/tax.py"]
    assert fix.co_change[1].history_suggestions == ["billing/invoice.py"]
    assert report.co_change_history.top3_hit == 1.0
    assert report.co_change_history.recall == 1.0
    assert report.tasks_with_references == 1
    assert fix.reference_in_brief is True
    assert all(result.brief_tokens > 0 for result in report.results)
    assert report.brief_tokens["max"] <= 1500


def test_eval_writes_report_files(evaluated) -> None:
    _, shas, out = evaluated

    markdown = (out / "report.md").read_text()
    data = json.loads((out / "report.json").read_text())
    assert "| Headstart brief |" in markdown
    assert "| co-change counts alone (the file only, top 10) | 4 | 100.0% | 100.0% |" in markdown
    assert "| Most recently changed files | 10.0% |" in markdown  # recall@1: 0.5 in one of 5 tasks
    assert shas["bot"][:10] in markdown
    assert "- Only 5 tasks: one task more or less found moves a mean by up to 20 points" in markdown
    assert "## Margin" in markdown
    assert "| Most recently changed files | " in markdown.split("## Margin")[1]
    assert set(data["margins"]) == {"bm25_contents", "bm25_messages", "recent"}
    assert data["cut"] == shas["cut"]
    assert len(data["results"]) == 5
    assert set(data["summary"]) == {"headstart", "bm25_contents", "bm25_messages", "recent"}
    assert (out / "recall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cut_fraction_and_date(history) -> None:
    repo, shas = history
    opened = open_repository(repo.path)

    by_fraction = choose_cut(opened.repo, opened.head, cut_fraction=0.78)
    cut_time = datetime.fromtimestamp(opened.repo.get(shas["cut"]).commit_time, tz=UTC)
    by_date = choose_cut(opened.repo, opened.head, cut_date=parse_cut_date(cut_time.isoformat()))

    assert by_fraction.sha == shas["cut"]
    assert by_fraction.total == 40
    assert len(by_fraction.later) == 9
    assert by_date.sha == shas["cut"]


def test_score_ranking_values() -> None:
    scores = score_ranking(["a", "x", "b", "y"], ["b", "a", "c", "d"])

    assert scores.recall_at(1) == 0.25
    assert scores.recall_at(3) == 0.5
    assert scores.recall_at(10) == 0.5
    assert scores.reciprocal_rank == 1.0
    assert scores.hit_at_5 is True
    assert scores.all_found_at_10 is False
    assert score_ranking(["x", "y", "b"], ["b"]).reciprocal_rank == pytest.approx(1 / 3)
    assert score_ranking([], ["b"]).recall_at(10) == 0.0


def test_changelog_and_skip_rules() -> None:
    assert is_changelog("CHANGES.rst")
    assert is_changelog("docs/changelog.md")
    assert is_changelog("changelog.d/123.bugfix")
    assert is_changelog("newsfragments/42.feature.rst")
    assert not is_changelog("src/changer.py")
    assert skip_reason("Release 2.0.1", "Release 2.0.1", "Ada <ada@example.com>", 1, 20) == "version bump"
    assert skip_reason("Bump pytest from 7.0 to 8.0", "", "Ada <ada@example.com>", 1, 20) == "version bump"
    assert skip_reason("chore: Bump to 10.4.2", "", "Ada <ada@example.com>", 1, 20) == "version bump"
    assert skip_reason("chore(release): v2.1.0", "", "Ada <ada@example.com>", 1, 20) == "version bump"
    # Pre-releases, and one crate or package of several released under its own name.
    for subject in ("5.0.0-alpha.1", "v5.0.0-beta.3", "1.0.0-rc1 release", "globset-0.4.17", "grep-cli-0.1.12"):
        assert skip_reason(subject, "", "Ada <ada@example.com>", 1, 20) == "version bump", subject
    for subject in ("Fix dev version 8.4.1", "chore(release): Prepare for 10.4.0"):
        assert skip_reason(subject, "", "Ada <ada@example.com>", 1, 20) == "version bump", subject
    # A dependency's version or a hyphenated word in a real change is no release.
    for subject in (
        "deps: bump to globset 0.4.17", "deps: qs@1.2.0", "Fix utf-8 handling", "Use python-3.12 features",
        "Fix version check", "Prepare for Python 3.12",
    ):
        assert skip_reason(subject, "", "Ada <ada@example.com>", 1, 20) is None, subject
    # Long-lived branches synced through a pull request describe no change of their own.
    for subject in ("Merge stable into main (#3479)", "Merge `stable` into `main` after the rST conversion", "Merge 3.1.x into main"):
        assert skip_reason(subject, "", "Ada <ada@example.com>", 1, 20) == "merge of one branch into another", subject
    for subject in ("Merge parser into lexer", "Merge helpers into mainframe.py"):
        assert skip_reason(subject, "", "Ada <ada@example.com>", 1, 20) is None, subject
    assert skip_reason("fix: 2.0 compatibility of the parser", "", "Ada <ada@example.com>", 1, 20) is None
    assert skip_reason("Bump the cache size to 512", "", "Ada <ada@example.com>", 1, 20) is None
    assert skip_reason("[pre-commit.ci] autoupdate", "", "pre-commit-ci[bot] <66853113+pre-commit-ci[bot]@users.noreply.github.com>", 1, 20) == "bot author"
    assert skip_reason("Add robot arm support", "", "Robert Botham <rb@example.com>", 1, 20) is None
    assert skip_reason("[pre-commit.ci] pre-commit autoupdate (#5541)", "", "David Lord <davidism@gmail.com>", 1, 20) == "bot author"
    assert skip_reason("Merge pull request #5106 from pallets/dependabot/pip/x", "", "Ada <ada@example.com>", 1, 20) == "bot author"
    assert skip_reason('Revert "Add cache"', "", "Ada <ada@example.com>", 1, 20) == "revert"
    assert skip_reason("Rework cache", "Rework cache\n\nRevert to the old key format.", "Ada <ada@example.com>", 1, 20) is None
    assert spread(list(range(10)), 4) == [0, 2, 5, 7]


def test_cli_bad_cut_rev(git_repo, tmp_path: Path, monkeypatch, capsys) -> None:
    import headstart.cli.eval  # noqa: F401 - registers the command on the app
    from headstart.cli.app import main

    git_repo.commit("One", {"a.py": "a\n"})
    git_repo.commit("Two", {"a.py": "b\n"})
    argv = ["headstart", "eval", str(git_repo.path), "--cut-rev", "no-such-rev", "--work", str(tmp_path / "w"), "--out", str(tmp_path / "o")]
    monkeypatch.setattr(sys, "argv", argv)

    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 2
    assert "--cut-rev 'no-such-rev' does not name a commit" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag", ["--out", "--work"])
def test_cli_rejects_file_as_folder(git_repo, tmp_path: Path, monkeypatch, capsys, flag: str) -> None:
    import headstart.cli.eval  # noqa: F401 - registers the command on the app
    from headstart.cli.app import main

    git_repo.commit("One", {"a.py": "a\n"})
    git_repo.commit("Two", {"a.py": "b\n"})
    # The folder is rejected before indexing, so the file stays as it was and nothing is created.
    existing_file = tmp_path / "notes.txt"
    existing_file.write_text("keep me\n")
    folders = {"--out": str(tmp_path / "o"), "--work": str(tmp_path / "w"), flag: str(existing_file)}
    argv = ["headstart", "eval", str(git_repo.path), "--out", folders["--out"], "--work", folders["--work"]]
    monkeypatch.setattr(sys, "argv", argv)

    with pytest.raises(SystemExit) as exited:
        main()

    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err == f"error: {flag} '{existing_file}' is a file, not a folder; give a folder (it is created when missing)\n"
    assert existing_file.read_text() == "keep me\n"
    assert not (tmp_path / "w").exists()
    assert not (tmp_path / "o").exists()


def test_cli_writes_report(history, tmp_path: Path, monkeypatch, capsys) -> None:
    import headstart.cli.eval  # noqa: F401 - registers the command on the app
    from headstart.cli.app import main

    repo, shas = history
    out = tmp_path / "o"
    argv = ["headstart", "eval", str(repo.path), "--cut-rev", shas["cut"], "--max-tasks", "2", "--co-change-anchors", "0",
            "--work", str(tmp_path / "w"), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)

    with pytest.raises(SystemExit) as exited:
        main()

    printed = capsys.readouterr().out
    assert exited.value.code in (0, None)
    assert f"2 tasks after cut {shas['cut'][:12]} (4 changes skipped)" in printed
    assert "Most recently changed files" in printed
    assert "recall@10 margin over the best baseline by recall@10 (" in printed
    assert ", 95% interval " in printed
    assert json.loads((out / "report.json").read_text())["options"]["max_tasks"] == 2
    assert (out / "recall.png").exists()
    assert (tmp_path / "w" / "store").is_dir()


def test_eval_tracker_cut_by_time(history, embedder: Embedder, tmp_path: Path) -> None:
    repo, shas = history
    before, after = "2023-06-01T00:00:00Z", "2030-01-01T00:00:00Z"
    export = tmp_path / "gh.json"
    export.write_text(json.dumps([
        {"number": 7, "url": "https://github.com/ada/demo/pull/7", "title": "Speed up search query parsing",
         "body": "Parse the query once.\n\nFixes #3", "state": "MERGED", "createdAt": before,
         "mergeCommit": {"oid": shas["merge"]}, "files": [{"path": "search/query.py"}]},
        {"number": 3, "url": "https://github.com/ada/demo/issues/3", "title": "Search is slow on long queries",
         "body": "search/query.py parses twice", "state": "OPEN", "labels": [{"name": "bug"}], "createdAt": before},
        {"number": 9, "url": "https://github.com/ada/demo/issues/9", "title": "Invoice totals are off",
         "body": "", "state": "OPEN", "labels": [{"name": "bug"}], "createdAt": after},
    ]))
    store = Store(str(tmp_path / "store"), embedder)
    options = EvalOptions(repo=repo.path, cut_rev=shas["cut"], co_change_anchors=0, imports=[export])

    report = run_evaluation(options, store)

    merge = next(result.task for result in report.results if result.task.sha == shas["merge"])
    assert merge.text == "Speed up search query parsing\n\nParse the query once.\n\nFixes #3"
    assert merge.references == ["issue:#3"]
    assert set(store.keys(report.repo, "bug")) == {"#3"}
    # The pull request was merged after the cut, so the index must not know its files.
    assert set(store.keys(report.repo, "pull_request")) == {"#5"}


def test_contents_baseline_on_a_partial_clone(git_repo, tmp_path: Path) -> None:
    git_repo.commit(
        "Add the parser and its data",
        {"parser.py": "def parse(tokens): return tokens\n", "data.txt": "parser tokens\n" * 200},
    )
    git_repo.git("config", "uploadpack.allowFilter", "true")
    partial = tmp_path / "partial.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", "--filter=blob:limit=1k", f"file://{git_repo.path}", str(partial)],
        check=True,
    )
    repo = pygit2.Repository(str(partial))

    ranker = FileContentRanker(repo, repo.revparse_single("HEAD"))

    assert ranker.rank("parser tokens") == ["parser.py"]


@pytest.mark.parametrize(
    ("tasks", "in_brief", "line"),
    [
        (0, 0.0, "No task points to an issue, pull request or commit."),
        (1, 0.0, "1 task points to an issue, pull request or commit; its brief names none of them."),
        (1, 1.0, "1 task points to an issue, pull request or commit; its brief names one of them."),
        (4, 0.5, "4 tasks point to an issue, pull request or commit; for 50.0% of them the brief names one of those."),
    ],
)
def test_references_line_counts(tasks: int, in_brief: float, line: str) -> None:
    assert _references_line(tasks, in_brief) == line


def test_skip_reasons_name_changelogs_and_new_files(git_repo) -> None:
    git_repo.commit("Add the parser", {"parser.py": "def parse(): pass\n", "CHANGES.rst": "- start\n"})
    cut_sha = git_repo.commit("Tune the parser", {"parser.py": "def parse(): return 1\n"})
    shas = {
        "changelog": git_repo.commit("Prepare the release notes", {"CHANGES.rst": "- start\n- parser\n"}),
        "new": git_repo.commit("Add the exporter", {"exporter.py": "x = 1\n"}),
        "both": git_repo.commit("Add the importer", {"importer.py": "y = 1\n", "CHANGES.rst": "- importer\n"}),
    }
    opened = open_repository(git_repo.path)
    cut = choose_cut(opened.repo, opened.head, cut_rev=cut_sha)

    _, skipped = list_tasks(opened.repo, cut, max_files=20)

    reasons = {item.sha: item.reason for item in skipped}
    assert reasons == {
        shas["changelog"]: "changes only changelog files",
        shas["new"]: "changes only files created after the cut",
        shas["both"]: "changes only changelogs and files created after the cut",
    }


def test_report_names_the_default_cut(git_repo, embedder: Embedder, tmp_path: Path) -> None:
    for number in range(10):
        git_repo.commit(f"Tune the parser, step {number}", {"parser.py": f"STEP = {number}\n"})

    report = run_evaluation(EvalOptions(repo=git_repo.path, co_change_anchors=0), Store(str(tmp_path / "store"), embedder))

    assert report.options["cut_fraction"] == 0.9
    assert report.cut_position == 9
