"""The derived per-file tables: incremental updates equal a full recount."""

from __future__ import annotations

from headstart.indexers.pipeline import index_repository, rebuild_stats


def _snapshot(store, repo):
    co_changes = {
        (path, partner): together
        for path in ("a.py", "b.py", "c.py")
        for partner, together, _ in store.stats.co_changes(repo, path)
    }
    stats = {item.path: (item.commits, item.co_commits, len(item.fix_shas), len(item.revert_shas))
             for item in store.stats.file_stats(repo, ["a.py", "b.py", "c.py"])}
    return co_changes, stats


def test_incremental_stats_match_rebuild(git_repo, store):
    git_repo.commit("Add a and b", {"a.py": "1\n", "b.py": "1\n"})
    git_repo.commit("Fix a crash in a\n\nfixes #3", {"a.py": "2\n"})
    index_repository(store, git_repo.path)

    git_repo.commit("Change a and b together", {"a.py": "3\n", "b.py": "3\n"})
    last = git_repo.commit("Touch a, b and c", {"a.py": "4\n", "b.py": "4\n", "c.py": "4\n"})
    git_repo.commit(f"Revert \"Touch a, b and c\"\n\nThis reverts commit {last}.", {"a.py": "3\n", "b.py": "3\n", "c.py": None})
    report = index_repository(store, git_repo.path)
    assert report.commits_written == 3

    repo = report.plan.repo
    incremental = _snapshot(store, repo)
    rebuild_stats(store, repo, 30)
    assert _snapshot(store, repo) == incremental

    co_changes, stats = incremental
    assert co_changes[("a.py", "b.py")] == 4
    assert co_changes[("a.py", "c.py")] == 2
    assert stats["a.py"] == (5, 5, 1, 1)
    assert store.stats.applied(repo) == 5


def test_stats_rebuilt_when_out_of_step(git_repo, store):
    git_repo.commit("Add a and b", {"a.py": "1\n", "b.py": "1\n"})
    index_repository(store, git_repo.path)
    repo = index_repository(store, git_repo.path).plan.repo
    store.stats.rebuild(repo, [], 30)  # as if a run died after writing records, before the tables

    git_repo.commit("Change a and b together", {"a.py": "2\n", "b.py": "2\n"})
    index_repository(store, git_repo.path)

    assert dict((partner, together) for partner, together, _ in store.stats.co_changes(repo, "a.py")) == {"b.py": 2}
    assert store.stats.applied(repo) == 2


def test_big_commits_left_out_of_co_change(git_repo, store):
    files = {f"gen/f{number}.py": "x\n" for number in range(40)}
    git_repo.commit("Reformat everything", files)
    report = index_repository(store, git_repo.path, max_files_per_commit=30)

    assert store.stats.co_changes(report.plan.repo, "gen/f1.py") == []
    assert store.stats.file_stats(report.plan.repo, ["gen/f1.py"])[0].co_commits == 0
