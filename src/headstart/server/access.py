"""The access a request has: which teams' ledger figures it may read, and which routes.

Two kinds of token open the server:

- the admin token, `Settings.api_token`, reaches every route and every team's figures;
- a team token, configured as its SHA-256 digest in `teams.toml`, reaches only the dashboard
  and the report routes (`SCOPED_PREFIXES`), and there only its own team's figures.

`TokenAuthMiddleware` (in `headstart.server.auth`) resolves the token once per request and
stores the resulting `Access` in the request state. Routes read it with the `request_access`
dependency and narrow a requested team with `Access.team_filter`:

    @router.get("/v1/reports/spend")
    def spend(access: RequestAccess, team: str | None = None) -> ...:
        team = access.team_filter(team)     # 403 for another team's name
        teams = access.teams                # None for an admin: no restriction
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from headstart.config import Settings
from headstart.ledger.teams import load_team_tokens

# Paths a team token may reach. Everything else needs the admin token when one is set.
SCOPED_PREFIXES = ("/dashboard", "/v1/reports")
STATE_KEY = "headstart_access"


@dataclass(frozen=True)
class Access:
    """The reach of one request: every team (`team` is None) or one team."""

    team: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.team is None

    @property
    def teams(self) -> frozenset[str] | None:
        """The teams this request may read, or None for all of them."""
        return None if self.team is None else frozenset({self.team})

    def may_read(self, team: str | None) -> bool:
        return self.team is None or team == self.team

    def team_filter(self, requested: str | None) -> str | None:
        """Return the team a report should be limited to, given the team a request names.

        An admin gets what it asked for (None for all teams). A team token gets its own team,
        whether it named it or named none; naming another team raises 403.
        """
        if self.team is None:
            return requested
        if requested is not None and requested != self.team:
            raise HTTPException(
                status_code=403,
                detail=(
                    f"this token belongs to team {self.team!r} and cannot read team "
                    f"{requested!r}: use that team's token or the admin token"
                ),
            )
        return self.team


ADMIN = Access()


def token_digest(token: str) -> str:
    """Return the hex SHA-256 digest of a token, the form in which team tokens are configured."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenPolicy:
    """The tokens a server accepts: an optional admin token and team tokens by digest."""

    admin_token: str | None = None
    team_digests: Mapping[str, str] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenPolicy:
        """Build the policy from `api_token` and the team tokens in `teams_file`."""
        return cls(
            admin_token=settings.api_token or None,
            team_digests=load_team_tokens(settings.teams_file),
        )

    @property
    def enabled(self) -> bool:
        """Whether any token is configured. A server with none is open, as on a laptop."""
        return bool(self.admin_token or self.team_digests)

    def resolve(self, token: str | None) -> Access | None:
        """Return the access a token grants, or None for a missing or unknown token."""
        if not token:
            return None
        # compare_digest takes the same time wherever the strings differ, so the admin token
        # cannot be guessed one character at a time from response times. Team tokens are
        # looked up by their SHA-256 digest, whose prefix a caller cannot steer.
        if self.admin_token and hmac.compare_digest(
            token.encode("utf-8"), self.admin_token.encode("utf-8")
        ):
            return ADMIN
        team = (self.team_digests or {}).get(token_digest(token))
        return Access(team=team) if team is not None else None


def is_scoped_path(path: str) -> bool:
    """Return whether a team token may reach a path (the dashboard and the report routes)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in SCOPED_PREFIXES)


def request_access(request: Request) -> Access:
    """FastAPI dependency: the `Access` the auth middleware resolved for this request.

    Raises 401 when the request did not pass through the middleware, so a route mounted
    without it fails closed instead of showing every team.
    """
    access = request.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(access, Access):
        raise HTTPException(
            status_code=401,
            detail="no token was checked for this request: send the admin or a team token",
        )
    return access


# The annotation routes declare a parameter with: `access: RequestAccess`.
RequestAccess = Annotated[Access, Depends(request_access)]
