"""Which types of work a scoped tool is named for, and when a tool scoped to nothing is cut.

Work outcomes written directly, all in March 2024 (sessions outside any task, so each counts):

| tool        | type    | units                          | cost per unit |
|-------------|---------|--------------------------------|---------------|
| claude_code | feature | 4 productive                   | $1            |
| claude_code | bugfix  | 4 productive                   | $1            |
| codex       | feature | 4 productive                   | $12           |
| codex       | bugfix  | 4 productive                   | $1            |
| cursor      | docs    | 2 productive, 2 wasteful       | $5, $1        |
| gemini_cli  | docs    | 1 pending                      | $1            |

The organisation: $73 over 18 successes, $4.0556 per productive task; per type, feature
$52 / 8 = $6.50, bugfix $8 / 8 = $1.00, docs $13 / 2 = $6.50.

- claude_code: 100% success, $1.00 (0.25x): keep.
- codex: 100% success, but $52 / 8 = $6.50 (1.60x, above 1.5x, below 3x): scope. Feature costs
  $12 (1.85x the organisation's feature $6.50), bugfix $1 (1.00x): scope to bugfix only.
- cursor: 50% success (between 30% and 60%), $12 / 2 = $6.00 (1.48x): scope by success, but
  docs, its only type, has 50% success: no type is good value, so cut.
- gemini_cli: nothing decided: scope, to no type.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from headstart.ledger.db import Ledger
from headstart.ledger.models import WorkOutcome
from headstart.ledger.reports import ReportQuery, verdict_report

START = datetime(2024, 3, 1, 9, tzinfo=UTC)
MARCH = ReportQuery(start=datetime(2024, 3, 1, tzinfo=UTC), end=datetime(2024, 4, 1, tzinfo=UTC))
UNITS = [
    *[("claude_code", "feature", "productive", 1)] * 4,
    *[("claude_code", "bugfix", "productive", 1)] * 4,
    *[("codex", "feature", "productive", 12)] * 4,
    *[("codex", "bugfix", "productive", 1)] * 4,
    *[("cursor", "docs", "productive", 5)] * 2,
    *[("cursor", "docs", "wasteful", 1)] * 2,
    ("gemini_cli", "docs", "pending", 1),
]


def _write(ledger: Ledger) -> None:
    with ledger.session() as session:
        for number, (tool, work_type, classification, cost) in enumerate(UNITS):
            started = START + timedelta(hours=number)
            session.add(
                WorkOutcome(
                    id=f"session:{number}",
                    unit="session",
                    counted=True,
                    tool=tool,
                    model="test-sonnet",
                    started_at=started,
                    ended_at=started + timedelta(minutes=30),
                    work_type=work_type,
                    classification=classification,
                    reasons=[f"set by the test as {classification}"],
                    requests=1,
                    tokens=1000,
                    cost=Decimal(cost),
                    commits=1,
                    pull_requests=1,
                    merged_pull_requests=int(classification == "productive"),
                    merged=classification == "productive",
                    first_try=classification == "productive",
                    has_brief=False,
                )
            )


def test_scope_names_only_types_of_good_value(ledger: Ledger) -> None:
    _write(ledger)
    with ledger.session() as session:
        report = verdict_report(session, MARCH)

    verdicts = {item.tool: item for item in report.tools}
    assert {tool: (item.verdict.value, item.scope_to) for tool, item in verdicts.items()} == {
        "claude_code": ("keep", []),
        "codex": ("scope", ["bugfix"]),
        "cursor": ("cut", []),
        "gemini_cli": ("scope", []),
    }
    assert report.organisation.cost_per_productive_task == pytest.approx(Decimal("4.055556"))
    assert verdicts["codex"].evidence[-2:] == [
        (
            "bugfix: good value: success rate 100% over 4 tasks, cost per productive task $1.00 "
            "(1.00x the organisation's $1.00 for bugfix)"
        ),
        (
            "feature: not good value: success rate 100% over 4 tasks, cost per productive task "
            "$12.00 (1.85x the organisation's $6.50 for feature)"
        ),
    ]
    assert verdicts["cursor"].evidence[-2:] == [
        (
            "docs: not good value: success rate 50% over 4 tasks, cost per productive task "
            "$6.00 (0.92x the organisation's $6.50 for docs)"
        ),
        (
            "no type of work where it is good value (success rate at least 60% and cost per "
            "productive task at most 1.5x the organisation's for that type), so nothing to "
            "scope it to"
        ),
    ]
    assert verdicts["gemini_cli"].evidence[-2:] == [
        "docs: 1 task, none decided yet",
        "no task decided yet, so no type of work to scope it to",
    ]
