"""Branches merged by squash or rebase count as merged, found by their changes (see landing.py).

The repository, in March 2024 (sessions by ada, one each, on their branch):

| session | branch          | day | what happened to the branch                                   |
|---------|-----------------|-----|---------------------------------------------------------------|
| squash  | feature/export  | 4   | two commits, squash-merged as "Add export (#21)" on the 6th, after main changed the same file |
| rebase  | feature/import  | 4   | two commits, rebased onto main on the 7th ("rebase and merge") |
| single  | feature/badge   | 4   | one commit, squash-merged alone with the PR's title (#23)      |
| idle    | feature/idle    | 4   | one commit, never merged                                      |
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from tests.conftest import GitRepo
from tests.ledger.reports.scenario import SETTINGS, commit_at, march, session_events

from headstart.ledger.db import Ledger
from headstart.ledger.ingest import record_events
from headstart.ledger.models import AgentSession, WorkOutcome
from headstart.ledger.pricing import PriceBook
from headstart.ledger.reports import analyze_outcomes
from headstart.ledger.teams import TeamMap

NOW = datetime(2024, 4, 15, 10, 0, tzinfo=UTC)
LINES = "".join(f"line {number}\n" for number in range(1, 11))


def _edit(text: str, number: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[number - 1] = new + "\n"
    return "".join(lines)


def _build(repo: GitRepo) -> dict[str, str]:
    shas: dict[str, str] = {}
    commit_at(repo, march(1), "Initial commit", {"src/report.py": LINES, "README.md": "app\n"})

    repo.git("checkout", "-q", "-b", "feature/export")
    shas["export-1"] = commit_at(
        repo, march(4, 9, 20), "feat: export as CSV", {"src/report.py": _edit(LINES, 2, "csv")}
    )
    shas["export-2"] = commit_at(
        repo,
        march(4, 9, 40),
        "test: cover export",
        {"tests/test_export.py": "def test_export():\n    pass\n"},
    )
    repo.git("checkout", "-q", "-b", "feature/import", "main")
    shas["import-1"] = commit_at(repo, march(4, 9, 25), "feat: read CSV", {"src/read.py": "r\n"})
    shas["import-2"] = commit_at(repo, march(4, 9, 45), "feat: read TSV", {"src/tsv.py": "t\n"})
    repo.git("checkout", "-q", "-b", "feature/badge", "main")
    shas["badge"] = commit_at(repo, march(4, 9, 30), "add badge", {"README.md": "app [ok]\n"})
    repo.git("checkout", "-q", "-b", "feature/idle", "main")
    shas["idle"] = commit_at(repo, march(4, 9, 35), "feat: idle work", {"src/idle.py": "i\n"})

    # Main moves on, changing the file the export branch changes, three lines away.
    repo.git("checkout", "-q", "main")
    commit_at(repo, march(5), "chore: bump", {"src/report.py": _edit(LINES, 6, "six")})

    repo.git("merge", "-q", "--squash", "feature/export")
    shas["squash"] = commit_at(repo, march(6), "Add export (#21)")
    repo.git("merge", "-q", "--squash", "feature/badge")
    shas["badge-squash"] = commit_at(repo, march(6, 10), "Show a status badge (#23)")

    repo.git("checkout", "-q", "-b", "landing", "feature/import")
    repo.clock = march(7).timestamp() - 3600
    repo.git("rebase", "-q", "main")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--ff-only", "landing")
    repo.git("branch", "-q", "-D", "landing")
    shas["rebased-1"] = repo.git("rev-parse", "HEAD~1")
    shas["rebased-2"] = repo.git("rev-parse", "HEAD")
    return shas


def _analyze(ledger: Ledger, repo: GitRepo, prices: Path) -> dict[str, WorkOutcome]:
    events = []
    for name, branch in (
        ("squash", "feature/export"),
        ("rebase", "feature/import"),
        ("single", "feature/badge"),
        ("idle", "feature/idle"),
    ):
        events += session_events(name, march(4, 9), Decimal(3), cwd=repo.path, branch=branch)
    record_events(ledger, events, prices=PriceBook(prices), teams=TeamMap())
    with ledger.session() as session:
        analyze_outcomes(session, settings=SETTINGS, now=NOW)
        rows = session.execute(
            select(WorkOutcome, AgentSession.external_id).join(
                AgentSession, AgentSession.id == WorkOutcome.session_id
            )
        ).all()
        session.expunge_all()
    return {external: row for row, external in rows}


def test_squash_and_rebase_merges_count_as_merged(
    ledger: Ledger, prices_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "repo").mkdir()
    repo = GitRepo(tmp_path / "repo")
    repo.git("init", "-q", "-b", "main")
    shas = _build(repo)

    found = _analyze(ledger, repo, prices_file)

    short = {name: sha[:8] for name, sha in shas.items()}
    rebased = ", ".join(sorted([short["rebased-1"], short["rebased-2"]]))
    assert {name: (row.classification, row.reasons) for name, row in found.items()} == {
        "squash": (
            "productive",
            [f"merged and stayed: 2 of 2 commits merged (squashed into {short['squash']}) in #21"],
        ),
        "rebase": (
            "productive",
            [f"merged and stayed: 2 of 2 commits merged (rebased as {rebased})"],
        ),
        "single": (
            "productive",
            [
                f"merged and stayed: 1 of 1 commit merged (squashed into {short['badge-squash']}) in #23"
            ],
        ),
        "idle": ("wasteful", ["abandoned: 1 commit never merged within 14 days"]),
    }
    assert found["squash"].evidence["landed"] == {
        shas["export-1"]: {"how": "squash", "commit": shas["squash"]},
        shas["export-2"]: {"how": "squash", "commit": shas["squash"]},
    }
    assert found["rebase"].evidence["landed"] == {
        shas["import-1"]: {"how": "rebase", "commit": shas["rebased-1"]},
        shas["import-2"]: {"how": "rebase", "commit": shas["rebased-2"]},
    }
    assert (found["squash"].merged, found["squash"].merged_pull_requests) == (True, 1)
    assert found["squash"].first_try and not found["squash"].reworked
    assert (found["idle"].merged, found["idle"].evidence["landed"]) == (False, {})


def test_squash_commit_revert_counts(ledger: Ledger, prices_file: Path, tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    repo = GitRepo(tmp_path / "repo")
    repo.git("init", "-q", "-b", "main")
    shas = _build(repo)
    repo.clock = march(8).timestamp() - 3600
    repo.git("revert", "--no-edit", shas["squash"])
    revert = repo.git("rev-parse", "HEAD")

    found = _analyze(ledger, repo, prices_file)

    assert found["squash"].classification == "wasteful"
    assert found["squash"].reasons == [
        f"reverted: {shas['export-1'][:8]} was reverted by {revert[:8]} within 14 days",
        f"reverted: {shas['export-2'][:8]} was reverted by {revert[:8]} within 14 days",
    ]
