"""Teams named after the fact reach the requests ingested before them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from headstart.cli.ledger import ledger_app
from headstart.ledger.db import open_ledger
from headstart.ledger.events import UsageEvent
from headstart.ledger.ingest import record_events
from headstart.ledger.models import AgentSession, Team, UsageRecord
from headstart.ledger.reassign import assign_teams
from headstart.ledger.reports import Dimension, ReportQuery, spend_report
from headstart.ledger.teams import TeamMap

DAY = datetime(2024, 5, 6, 9, tzinfo=UTC)


def _event(number: int, engineer: str, team: str | None = None) -> UsageEvent:
    return UsageEvent(
        source="test",
        dedup_key=f"assign:{number}",
        tool="claude_code",
        timestamp=DAY + timedelta(hours=number),
        model="test-sonnet",
        session_id=f"s{number}",
        input_tokens=1_000,
        engineer=engineer,
        team=team,
    )


def test_assign_teams_after_ingest(ledger, prices, tmp_path: Path) -> None:
    record_events(
        ledger,
        [_event(1, "ada@example.com"), _event(2, "bob@example.com"), _event(3, "ada@example.com", team="infra")],
        prices=prices,
        teams=TeamMap(),
    )
    query = ReportQuery(start=DAY - timedelta(days=1), end=DAY + timedelta(days=1))
    with ledger.session() as session:
        before = spend_report(session, query, dimension=Dimension.TEAM)
    teams_file = tmp_path / "teams.toml"
    teams_file.write_text('[teams.payments]\nmembers = ["ada@example.com"]\n')

    with ledger.session() as session:
        assignment = assign_teams(session, TeamMap.load(teams_file))
    with ledger.session() as session:
        after = spend_report(session, query, dimension=Dimension.TEAM)
        rows = session.execute(
            select(UsageRecord.dedup_key, Team.name).outerjoin(Team, Team.id == UsageRecord.team_id)
        ).all()
        sessions = session.execute(select(AgentSession.external_id, AgentSession.team_id)).all()
    with ledger.session() as session:
        again = assign_teams(session, TeamMap.load(teams_file))

    # The request whose telemetry named "infra" keeps it; bob is in no team.
    assert dict(rows) == {"assign:1": "payments", "assign:2": None, "assign:3": "infra"}
    assert (assignment.records, assignment.engineers) == (1, 1)
    assert {dict(sessions)["s1"] is not None, dict(sessions)["s2"] is None} == {True}
    assert "payments" not in {series.key for series in before.series}
    assert "payments" in {series.key for series in after.series}
    assert (again.records, again.sessions, again.engineers) == (0, 0, 0)


def test_assign_teams_command(prices, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    ledger = open_ledger(url)
    try:
        record_events(ledger, [_event(1, "ada@example.com")], prices=prices, teams=TeamMap())
    finally:
        ledger.close()
    teams_file = tmp_path / "teams.toml"
    teams_file.write_text('[teams.payments]\nmembers = ["ada@example.com"]\n')

    result = CliRunner().invoke(ledger_app, ["assign-teams", "--database", url, "--teams", str(teams_file)])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("assigned teams to 1 request, 1 session and 1 engineer that had none")
