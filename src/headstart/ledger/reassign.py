"""Giving teams to usage recorded before `teams.toml` named them.

Teams are attributed at ingest. A team file written or extended later would leave the earlier
requests without a team, and a team's figures short. `assign_teams` gives each request, session
and engineer that has no team the one the team file names now. Requests that have a team keep it:
their telemetry or an earlier team file decided it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from headstart.ledger.models import AgentSession, Engineer, Team, UsageRecord, utcnow
from headstart.ledger.store import ensure_rows
from headstart.ledger.teams import TeamMap


@dataclass
class TeamAssignment:
    engineers: int = 0
    sessions: int = 0
    records: int = 0


def assign_teams(session: Session, teams: TeamMap) -> TeamAssignment:
    """Give a team to every engineer, session and request without one that `teams` places."""
    assignment = TeamAssignment()
    identities = dict(session.execute(select(Engineer.id, Engineer.identity)).all())

    engineer_teams = {
        engineer: team for engineer, identity in identities.items() if (team := teams.team_for(None, identity, None))
    }
    record_groups = session.execute(
        select(UsageRecord.engineer_id, UsageRecord.repository).where(UsageRecord.team_id.is_(None)).distinct()
    ).all()
    session_groups = session.execute(
        select(AgentSession.engineer_id, AgentSession.repository).where(AgentSession.team_id.is_(None)).distinct()
    ).all()
    group_teams = {
        (engineer, repository): team
        for engineer, repository in {*record_groups, *session_groups}
        if (team := teams.team_for(None, identities.get(engineer), repository))
    }
    names = sorted({*engineer_teams.values(), *group_teams.values()})
    team_ids = ensure_rows(session, Team.__table__, "name", [{"name": name, "created_at": utcnow()} for name in names])

    for engineer, team in engineer_teams.items():
        assignment.engineers += session.execute(
            update(Engineer).where(Engineer.id == engineer, Engineer.team_id.is_(None)).values(team_id=team_ids[team])
        ).rowcount
    # Re-stamped so that the reports' daily rollup rebuilds the days these requests fall on.
    now = datetime.now(UTC)
    for (engineer, repository), team in group_teams.items():
        same_engineer = UsageRecord.engineer_id.is_(None) if engineer is None else UsageRecord.engineer_id == engineer
        same_repository = UsageRecord.repository.is_(None) if repository is None else UsageRecord.repository == repository
        assignment.records += session.execute(
            update(UsageRecord)
            .where(UsageRecord.team_id.is_(None), same_engineer, same_repository)
            .values(team_id=team_ids[team], ingested_at=now)
        ).rowcount
        session_engineer = AgentSession.engineer_id.is_(None) if engineer is None else AgentSession.engineer_id == engineer
        session_repository = (
            AgentSession.repository.is_(None) if repository is None else AgentSession.repository == repository
        )
        assignment.sessions += session.execute(
            update(AgentSession)
            .where(AgentSession.team_id.is_(None), session_engineer, session_repository)
            .values(team_id=team_ids[team])
        ).rowcount
    return assignment
