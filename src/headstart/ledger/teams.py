"""Map engineers and repositories to teams, from a `teams.toml` file.

    [teams.platform]
    members = ["alice@example.com", "bob"]          # emails, account ids or OS user names
    repositories = ["github.com/acme/api", "github.com/acme/infra-*"]
    budget_usd = 5000                               # optional: the team's budget per period
    budget_period = "month"                         # month (default), week or quarter

A request's team is, in order: the team its telemetry names (the `team.id` resource
attribute), the team listing its engineer, the team listing its repository.

A team may also hold the SHA-256 digests of the tokens that open its figures on the dashboard
and the report routes (`printf %s "$TOKEN" | sha256sum`), one string or a list:

    [teams.platform]
    token_sha256 = ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from headstart.ledger.errors import LedgerInputError

BUDGET_PERIODS = ("week", "month", "quarter")


@dataclass(frozen=True)
class TeamBudget:
    """A team's spending limit in USD per calendar week, month or quarter (UTC)."""

    amount_usd: Decimal
    period: str = "month"


@dataclass
class TeamMap:
    """Team membership of engineers and repositories, and each team's budget."""

    members: dict[str, str] = field(default_factory=dict)
    repositories: list[tuple[str, str]] = field(default_factory=list)
    budgets: dict[str, TeamBudget] = field(default_factory=dict)

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
                "fix --teams, HEADSTART_TEAMS_FILE or teams_file in the config file"
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
            if "budget_usd" in table:
                mapping.budgets[team] = _budget(path, team, table)
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


def _budget(path: Path, team: str, table: dict[str, object]) -> TeamBudget:
    raw, period = table["budget_usd"], table.get("budget_period", "month")
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        amount = Decimal(-1)
    if isinstance(raw, bool) or not amount.is_finite() or amount < 0:
        raise LedgerInputError(
            f"invalid budget_usd {raw!r} for team {team!r} in {str(path)!r}: expected a number >= 0"
        )
    if period not in BUDGET_PERIODS:
        raise LedgerInputError(
            f"invalid budget_period {period!r} for team {team!r} in {str(path)!r}: "
            f"expected one of {', '.join(BUDGET_PERIODS)}"
        )
    return TeamBudget(amount_usd=amount, period=str(period))


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


SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def load_team_tokens(path: Path | None) -> dict[str, str]:
    """Read the `token_sha256` entries of a teams file into a map of hex digest to team.

    Raises `LedgerInputError` for a digest that is not 64 hex digits, or one that two teams
    share, since a token must open exactly one team.
    """
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LedgerInputError(
            f"cannot read the teams file {str(path)!r}: {exc.strerror}; "
            "fix --teams, HEADSTART_TEAMS_FILE or teams_file in the config file"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise LedgerInputError(f"invalid TOML in the teams file {str(path)!r}: {exc}") from exc

    tokens: dict[str, str] = {}
    teams = data.get("teams")
    for team, table in (teams if isinstance(teams, dict) else {}).items():
        if not isinstance(table, dict):
            continue
        digests = table.get("token_sha256", [])
        if isinstance(digests, str):
            digests = [digests]
        if not isinstance(digests, list):
            raise LedgerInputError(
                f"invalid token_sha256 {digests!r} of team {team!r} in {str(path)!r}: "
                "expected a hex digest or a list of them"
            )
        for digest in digests:
            normalized = str(digest).strip().lower()
            if not SHA256_HEX.fullmatch(normalized):
                raise LedgerInputError(
                    f"invalid token_sha256 {digest!r} of team {team!r} in {str(path)!r}: "
                    "expected 64 hex digits, as printed by `printf %s TOKEN | sha256sum`"
                )
            if tokens.setdefault(normalized, team) != team:
                raise LedgerInputError(
                    f"token_sha256 {normalized!r} in {str(path)!r} is listed for both team "
                    f"{tokens[normalized]!r} and team {team!r}: give each team its own token"
                )
    return tokens
