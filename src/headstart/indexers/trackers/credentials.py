"""Tracker tokens and base URLs: from the environment, else from the TOML file in `HEADSTART_TRACKER_CONFIG`.

The file looks like:

    [github]
    token = "ghp_…"
    url = "https://github.example.com/api/v3"   # GitHub Enterprise; optional

    [gitlab]
    token = "glpat-…"
    url = "https://gitlab.example.com"           # optional
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from headstart.indexers.trackers.http import TrackerError

_DEFAULT_URLS = {"github": "https://api.github.com", "gitlab": "https://gitlab.com"}
_TOKEN_VARIABLES = {"github": ("GITHUB_TOKEN", "GH_TOKEN"), "gitlab": ("GITLAB_TOKEN",)}
_URL_VARIABLES = {"github": "GITHUB_API_URL", "gitlab": "GITLAB_URL"}


@dataclass(frozen=True)
class TrackerCredentials:
    url: str
    token: str | None

    def __repr__(self) -> str:
        # Keep the token out of reprs, tracebacks and logs.
        return f"TrackerCredentials(url={self.url!r}, token={'set' if self.token else None})"


def tracker_credentials(
    tracker: str, *, url: str | None = None, environ: Mapping[str, str] | None = None
) -> TrackerCredentials:
    """Find the token and base URL for `tracker` ("github" or "gitlab"); an explicit `url` wins."""
    environ = os.environ if environ is None else environ
    section = _config_section(tracker, environ)

    token = next((environ[name] for name in _TOKEN_VARIABLES[tracker] if environ.get(name)), None)
    token = token or section.get("token") or None
    base = url or environ.get(_URL_VARIABLES[tracker]) or section.get("url") or _DEFAULT_URLS[tracker]
    return TrackerCredentials(url=str(base), token=str(token) if token else None)


def _config_section(tracker: str, environ: Mapping[str, str]) -> dict[str, object]:
    path_text = environ.get("HEADSTART_TRACKER_CONFIG")
    if not path_text:
        return {}
    path = Path(path_text).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TrackerError(
            f"HEADSTART_TRACKER_CONFIG names {str(path)!r}, which does not exist; create it or unset the variable"
        ) from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TrackerError(f"the tracker config {str(path)!r} is not valid TOML: {exc}") from exc
    section = data.get(tracker, {})
    if not isinstance(section, dict):
        raise TrackerError(f"[{tracker}] in {str(path)!r} must be a table with `token` and `url` keys")
    return section
