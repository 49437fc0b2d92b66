"""Outcomes and classification of the scenario's sessions and tasks (see scenario.py)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from tests.ledger.reports.scenario import NOW, SETTINGS

from headstart.ledger.models import AgentSession, WorkOutcome
from headstart.ledger.reports import analyze_outcomes


def _outcomes(ledger) -> dict[str, WorkOutcome]:
    with ledger.session() as session:
        rows = session.execute(
            select(WorkOutcome, AgentSession.external_id).outerjoin(
                AgentSession, AgentSession.id == WorkOutcome.session_id
            )
        ).all()
    return {external or "task": row for row, external in rows}


def test_each_classification_has_its_reason(scenario) -> None:
    ledger, _teams, shas = scenario
    found = _outcomes(ledger)

    summary = {
        name: (row.classification, row.work_type, row.reasons) for name, row in found.items()
    }
    assert summary == {
        "s1": ("productive", "feature", ["merged and stayed: 1 of 1 commit merged in #12"]),
        "s2": (
            "inefficient",
            "feature",
            [
                "merged and stayed: 1 of 1 commit merged in #13",
                "cost $30.00 is 10.0x the median $3.00 of 3 successful feature tasks (limit 3x)",
            ],
        ),
        "s3": ("productive", "feature", ["merged and stayed: 1 of 1 commit merged"]),
        "s4": (
            "inefficient",
            "bugfix",
            [
                "merged and stayed: 1 of 1 commit merged in #14",
                f"rework: {shas['refix'][:8]} fixed files of {shas['s4'][:8]} within 14 days",
            ],
        ),
        "s5": (
            "inefficient",
            "refactor",
            [
                "merged and stayed: 1 of 1 commit merged",
                (
                    "expensive model test-opus for work that mostly moves or renames files "
                    "(100% renamed)"
                ),
            ],
        ),
        "s6": (
            "wasteful",
            "feature",
            [f"reverted: {shas['s6'][:8]} was reverted by {shas['revert'][:8]} within 14 days"],
        ),
        "s7": (
            "wasteful",
            "feature",
            ["loop: the same failing tool call (Bash:0a1b2c3d4e5f) failed 3 times"],
        ),
        "s8": ("wasteful", "feature", ["abandoned: no commit on feature/search within 24 hours"]),
        "s9": ("pending", "feature", ["no commit yet"]),
        "s10": ("wasteful", "bugfix", ["abandoned: the task was finished as abandoned"]),
        "task": ("wasteful", "bugfix", ["abandoned: the task was finished as abandoned"]),
    }


def test_outcomes_link_commits_and_pull_requests(scenario) -> None:
    ledger, _teams, shas = scenario
    found = _outcomes(ledger)

    assert found["s1"].evidence["commits"] == [shas["s1"]]
    assert found["s1"].evidence["pull_requests"] == ["#12"]
    assert (found["s1"].merged_pull_requests, found["s1"].has_brief) == (1, True)
    assert found["s4"].reworked and not found["s4"].first_try
    assert found["s2"].first_try
    assert found["s6"].reverted
    assert found["s7"].looped
    assert found["s8"].abandoned and found["s8"].commits == 0
    # The task sums its one session and is the unit counted; the session is not.
    assert (found["task"].counted, found["s10"].counted) == (True, False)
    assert found["task"].cost == Decimal(3)
    assert found["task"].tool == "codex"
    assert found["s5"].model == "test-opus"
    assert found["s5"].cost == Decimal(5)


def test_analysis_is_repeatable(scenario) -> None:
    from tests.ledger.reports.scenario import NOW, SETTINGS

    from headstart.ledger.reports import analyze_outcomes

    ledger, _teams, _shas = scenario
    before = {name: row.classification for name, row in _outcomes(ledger).items()}
    with ledger.session() as session:
        summary = analyze_outcomes(session, settings=SETTINGS, now=NOW)

    assert {name: row.classification for name, row in _outcomes(ledger).items()} == before
    assert (summary.sessions, summary.tasks, summary.without_git) == (10, 1, 0)
    assert summary.by_class == {"productive": 2, "inefficient": 3, "wasteful": 4, "pending": 1}


def test_analysis_without_git_keeps_rows(scenario) -> None:
    ledger, _teams, _shas = scenario
    before = {name: row.reasons for name, row in _outcomes(ledger).items()}
    with ledger.session() as session:
        summary = analyze_outcomes(session, settings=SETTINGS, now=NOW, locate=lambda _row: None)

    assert summary.without_git == 10
    assert {name: row.reasons for name, row in _outcomes(ledger).items()} == before
