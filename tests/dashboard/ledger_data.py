"""A small ledger with known spend and outcomes, and the figures the dashboard must show for it.

Ten days, 2026-03-01 to 2026-03-10, three teams. Every usage record is its own session:

| team     | engineer | tool        | model           | per day           | class                                 |
|----------|----------|-------------|-----------------|-------------------|---------------------------------------|
| platform | alice    | claude-code | claude-sonnet-4 | $2.00, 1000 tok   | productive, with a brief              |
| platform | bob      | codex       | gpt-5           | $1.00, 2000 tok   | wasteful on odd days, else productive |
| payments | carol    | claude-code | claude-sonnet-4 | $0.50, 2000 tok   | inefficient                           |
| mobile   | dave     | codex       | gpt-5           | $0.25 on even days| not analyzed                          |

teams.toml gives platform a $100 and payments a $50 monthly budget, and each team a token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from headstart.ledger.db import Ledger
from headstart.ledger.models import AgentSession, Engineer, Team, UsageRecord, WorkOutcome

START = date(2026, 3, 1)
DAYS = 10
PERIOD = "start=2026-03-01&end=2026-03-10"
ADMIN_TOKEN = "admin-token-for-tests"
TEAM_TOKENS = {
    "platform": "platform-token-for-tests",
    "payments": "payments-token-for-tests",
    "mobile": "mobile-token-for-tests",
}
BUDGETS = {"platform": 100, "payments": 50}


@dataclass(frozen=True)
class Stream:
    team: str
    engineer: str
    tool: str
    model: str
    cost: Decimal
    tokens: int


STREAMS = [
    Stream("platform", "alice", "claude-code", "claude-sonnet-4", Decimal("2.00"), 1000),
    Stream("platform", "bob", "codex", "gpt-5", Decimal("1.00"), 2000),
    Stream("payments", "carol", "claude-code", "claude-sonnet-4", Decimal("0.50"), 2000),
    Stream("mobile", "dave", "codex", "gpt-5", Decimal("0.25"), 2000),
]

DAY_LABELS = [(START + timedelta(days=offset)).isoformat() for offset in range(DAYS)]
# Spend per day, the dashboard's spend series, with no filter and with tool=codex.
SPEND = {
    "platform": [3.0] * DAYS,
    "payments": [0.5] * DAYS,
    "mobile": [0.25 if (offset + 1) % 2 == 0 else 0.0 for offset in range(DAYS)],
}
SPEND_CODEX = {
    "platform": [1.0] * DAYS,
    "mobile": SPEND["mobile"],
}
# The average team per day, as the team pages draw it: the day's spend over the teams that spent.
ORG_PER_TEAM = [
    (3.0 + 0.5 + 0.25) / 3 if (offset + 1) % 2 == 0 else (3.0 + 0.5) / 2 for offset in range(DAYS)
]


def write_teams_file(path: Path) -> Path:
    lines = []
    for team, token in TEAM_TOKENS.items():
        lines.append(f"[teams.{team}]")
        lines.append(f'token_sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"')
        if team in BUDGETS:
            lines.append(f"budget_usd = {BUDGETS[team]}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def _classification(stream: Stream, day: int) -> str | None:
    if stream.team == "mobile":
        return None
    if stream.team == "payments":
        return "inefficient"
    if stream.tool == "codex" and day % 2 == 1:
        return "wasteful"
    return "productive"


def fill_ledger(ledger: Ledger) -> None:
    """Write the table above: teams, engineers, one session per record, and its outcome."""
    with ledger.session() as session:
        teams = {name: Team(name=name) for name in TEAM_TOKENS}
        session.add_all(teams.values())
        session.flush()
        engineers = {
            stream.engineer: Engineer(identity=stream.engineer, team_id=teams[stream.team].id)
            for stream in STREAMS
        }
        session.add_all(engineers.values())
        session.flush()

        for offset in range(DAYS):
            day = offset + 1
            at = datetime(START.year, START.month, START.day, 10, tzinfo=UTC) + timedelta(
                days=offset
            )
            for stream in STREAMS:
                if stream.team == "mobile" and day % 2 == 1:
                    continue
                team_id = teams[stream.team].id
                engineer_id = engineers[stream.engineer].id
                agent_session = AgentSession(
                    tool=stream.tool,
                    external_id=f"{stream.engineer}-{day}",
                    engineer_id=engineer_id,
                    team_id=team_id,
                    first_seen=at,
                    last_seen=at + timedelta(minutes=30),
                )
                session.add(agent_session)
                session.flush()
                session.add(
                    UsageRecord(
                        dedup_key=f"{stream.engineer}-{day}",
                        source="test",
                        tool=stream.tool,
                        model=stream.model,
                        timestamp=at,
                        session_id=agent_session.id,
                        input_tokens=stream.tokens,
                        computed_cost=stream.cost,
                        priced=True,
                        engineer_id=engineer_id,
                        team_id=team_id,
                    )
                )
                classification = _classification(stream, day)
                if classification is None:
                    continue
                session.add(
                    WorkOutcome(
                        id=f"session:{agent_session.id}",
                        unit="session",
                        session_id=agent_session.id,
                        counted=True,
                        tool=stream.tool,
                        model=stream.model,
                        team_id=team_id,
                        engineer_id=engineer_id,
                        started_at=at,
                        ended_at=at + timedelta(minutes=30),
                        work_type="feature",
                        classification=classification,
                        reasons=[f"set by the test as {classification}"],
                        requests=1,
                        tokens=stream.tokens,
                        cost=stream.cost,
                        commits=1,
                        pull_requests=1,
                        merged_pull_requests=0 if classification == "wasteful" else 1,
                        merged=classification != "wasteful",
                        first_try=classification == "productive",
                        has_brief=stream.engineer == "alice",
                    )
                )
