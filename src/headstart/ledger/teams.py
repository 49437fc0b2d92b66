"""Map engineers and repositories to teams, from a `teams.toml` file.

    [teams.platform]
    members = ["alice@example.com", "bob"]          # emails, account ids or OS user names
    repositories = ["github.com/acme/api", "github.com/acme/infra-*"]

A request's team is, in order: the team its telemetry names (the `team.id` resource
attribute), the team listing its engineer, the team listing its repository.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from headstart.ledger.errors import LedgerInputError


@dataclass
class TeamMap:
    """Team membership of engineers and repositories."""

    members: dict[str, str] = field(default_factory=dict)
    repositories: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path | None) -> TeamMap:
        """Read a teams file, or return an empty mapping when there is no path."""
        if path is None:
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise LedgerInputError(
                f"cannot read the teams file {str(path)!r}: {exc.strerror}; "
                "fix Settings.teams_file or --teams"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise LedgerInputError(f"invalid TOML in the teams file {str(path)!r}: {exc}") from exc

        teams = data.get("teams")
        if not isinstance(teams, dict):
            raise LedgerInputError(
                f"invalid teams file {str(path)!r}: expected [teams.<name>] tables with "
                "members and repositories lists"
            )

        mapping = cls()
        for team, table in teams.items():
            if not isinstance(table, dict):
                raise LedgerInputError(
                    f"invalid teams file {str(path)!r}: teams.{team} must be a table"
                )
            for member in table.get("members", []):
                mapping.members[str(member).strip().lower()] = team
            for pattern in table.get("repositories", []):
                mapping.repositories.append((normalize_repository(str(pattern)), team))
        return mapping

    def team_for(
        self, explicit: str | None, engineer: str | None, repository: str | None
    ) -> str | None:
        if explicit:
            return explicit
        if engineer and (team := self.members.get(engineer.strip().lower())):
            return team
        if repository:
            normalized = normalize_repository(repository)
            for pattern, team in self.repositories:
                if fnmatch.fnmatchcase(normalized, pattern):
                    return team
        return None


def normalize_repository(url: str) -> str:
    """Reduce a remote URL to host/owner/name: git@github.com:acme/api.git → github.com/acme/api."""
    text = url.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
        host, _, path = text.partition("/")
        host = host.split("@", 1)[-1].split(":", 1)[0]
        text = f"{host}/{path}"
    elif "@" in text and ":" in text:
        # scp-like syntax: user@host:owner/name
        user_host, _, path = text.partition(":")
        text = f"{user_host.split('@', 1)[-1]}/{path}"
    return text.rstrip("/").removesuffix(".git").lower()
