"""Settings shared by every part of Headstart.

Values come, highest priority first, from keyword arguments, `HEADSTART_*` environment
variables, the TOML file named by `HEADSTART_CONFIG` (default: `headstart.toml` in the user
config directory), and the defaults below.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from headstart.errors import InputError

APP_NAME = "headstart"
DEFAULT_MODEL = "all-MiniLM-L6-v2"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_file(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if "HEADSTART_CONFIG" in environ:
        return Path(environ["HEADSTART_CONFIG"]).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "headstart.toml"


# LanceDB storage options filled from the AWS SDK's usual environment variables, first found wins.
AWS_ENVIRONMENT = {
    "aws_endpoint": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"),
    "aws_region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "aws_access_key_id": ("AWS_ACCESS_KEY_ID",),
    "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "aws_session_token": ("AWS_SESSION_TOKEN",),
    "allow_http": ("AWS_ALLOW_HTTP",),
}


def is_object_store(uri: str) -> bool:
    """Tell whether a store URI names object storage (s3://, gs://, az://…) rather than a folder."""
    scheme, separator, _ = uri.partition("://")
    return bool(separator) and scheme.lower() != "file"


def object_store_options(uri: str, configured: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """Return the LanceDB storage options for `uri`: `configured`, completed from AWS_* variables.

    A folder needs none, so it gets an empty dict.
    """
    if not is_object_store(uri):
        return {}
    options: dict[str, str] = {}
    for option, variables in AWS_ENVIRONMENT.items():
        value = next((environ[name] for name in variables if environ.get(name)), None)
        if value is not None:
            options[option] = value
    # Keys are case-insensitive to LanceDB; lower case lets a configured key replace an environment one.
    options.update({key.lower(): str(value) for key, value in configured.items()})
    return options


class RepositorySource(BaseModel):
    """One entry of `[[repositories]]` in the config file: what `headstart index --all` indexes."""

    model_config = ConfigDict(extra="forbid")

    path: Path | None = Field(default=None, description="Local clone whose git history is indexed.")
    github: str | None = Field(default=None, description="GitHub repository (owner/name) for pull requests and bugs.")
    gitlab: str | None = Field(default=None, description="GitLab project (group/project) for merge requests and bugs.")
    api_url: str | None = Field(default=None, description="API base URL for GitHub Enterprise or a self-managed GitLab.")
    repo: str | None = Field(default=None, description="Repository name for tracker records, as the git index names it.")
    until: str | None = Field(default=None, description="Index history up to this revision, not HEAD.")
    bug_labels: list[str] = Field(default_factory=lambda: ["bug"], description="Issue labels that mark a bug.")

    @model_validator(mode="after")
    def _names_a_source(self) -> RepositorySource:
        if self.path is None and not self.github and not self.gitlab:
            raise ValueError("a [[repositories]] entry needs path, github or gitlab, e.g. path = \"/srv/git/api\"")
        return self

    @property
    def label(self) -> str:
        """How the summary of `index --all` names this entry."""
        return str(self.path) if self.path is not None else (self.github or self.gitlab or "")


class Settings(BaseSettings):
    """One typed settings object; every command and the server read it."""

    model_config = SettingsConfigDict(env_prefix="HEADSTART_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="Where embedded data lives.")
    db: str | None = Field(
        default=None,
        description="LanceDB URI of the store (a folder or s3://…); default: <data_dir>/store.",
    )
    ledger_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the ledger; default: SQLite at <data_dir>/ledger.sqlite3.",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict,
        description="LanceDB storage options for an object-store `db` (aws_endpoint, aws_region, allow_http, …); "
        "AWS_* environment variables fill in the rest.",
    )
    index_lease_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long an index job's hold on a repository lasts unless renewed; a job renews it per batch.",
    )
    repositories: list[RepositorySource] = Field(
        default_factory=list, description="Repositories and trackers that `headstart index --all` indexes."
    )
    model: str = Field(default=DEFAULT_MODEL, description="sentence-transformers model name or path.")
    device: str | None = Field(default=None, description="torch device for embedding (cpu, cuda, mps).")
    # 16 encoded commit messages faster than 64 on a 2-core CPU, with less memory (docs/benchmarks.md).
    embed_batch_size: int = Field(default=16, ge=1, description="Texts per embedding batch.")
    max_tokens: int = Field(default=1500, ge=100, description="Default token budget of a brief.")
    co_change_min_shared: int = Field(
        default=10, ge=1, description="Commits two files must share before a co-change rule is stated."
    )
    co_change_min_confidence: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Share of a file's commits that must touch the other file."
    )
    max_files_per_commit: int = Field(
        default=30, ge=2, description="Commits touching more files are left out of co-change counts."
    )
    api_token: str | None = Field(default=None, description="Token required by the HTTP server.")
    metrics_token: str | None = Field(
        default=None, description="Token that also opens /metrics, for a scraper without api_token."
    )
    metrics_open: bool = Field(default=False, description="Serve /metrics without any token.")
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as text or as one JSON object each."
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest request body the server accepts."
    )
    max_concurrent_requests: int = Field(
        default=32, ge=0, description="Requests one server process handles at once (0: no limit)."
    )
    queue_timeout: float = Field(
        default=10.0, ge=0, description="Seconds a request waits for a free slot before a 503."
    )
    shutdown_timeout: float = Field(
        default=30.0, ge=0, description="Seconds a stopping server gives in-flight requests."
    )
    keep_alive_timeout: float = Field(
        default=75.0,
        gt=0,
        description="Seconds an idle HTTP connection stays open; above the load balancer's idle timeout.",
    )
    teams_file: Path | None = Field(default=None, description="teams.toml mapping people to teams.")
    prices_file: Path | None = Field(default=None, description="Price overrides (TOML).")
    report_rework_days: int = Field(
        default=14, ge=1, description="Days after a commit in which a revert or re-fix counts against it."
    )
    report_abandon_hours: float = Field(
        default=24.0, ge=0.0, description="Hours after a session ends before no commit means abandoned."
    )
    report_cost_ratio: float = Field(
        default=3.0, gt=1.0, description="Cost above this multiple of the median of the same type of work is inefficient."
    )
    report_min_peers: int = Field(
        default=5, ge=2, description="Comparable tasks needed before a cost is judged against their median."
    )
    report_loop_repeats: int = Field(
        default=3, ge=2, description="Repeats of one failing tool call or error that make a loop."
    )
    report_move_share: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Share of renamed files that makes work mostly moving."
    )
    report_expensive_models: list[str] = Field(
        default_factory=lambda: ["*opus*", "*-pro", "o1", "o1-*", "o3", "o3-pro*", "gpt-4.5*"],
        description="Model name patterns (fnmatch) judged too expensive for moving or renaming files.",
    )
    report_keep_success: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Success rate at or above which a tool may be kept."
    )
    report_cut_success: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Success rate below which a tool is cut."
    )
    report_keep_cost_ratio: float = Field(
        default=1.5, gt=0.0, description="Cost per productive task, as a multiple of the organisation's, a kept tool stays within."
    )
    report_cut_cost_ratio: float = Field(
        default=3.0, gt=0.0, description="Cost per productive task, as a multiple of the organisation's, above which a tool is cut."
    )
    report_min_sample: int = Field(
        default=20, ge=2, description="Tasks per cohort or tool below which a result is flagged as too small."
    )
    report_outlier_z: float = Field(
        default=3.5, gt=0.0, description="Modified z-score (median absolute deviation) above which spend is an outlier."
    )
    report_bootstrap_resamples: int = Field(
        default=2000, ge=100, description="Bootstrap resamples behind each confidence interval."
    )
    report_seed: int = Field(default=7, description="Seed of the bootstrap, so reports are repeatable.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_source = TomlConfigSettingsSource(settings_cls, toml_file=default_config_file())
        return (init_settings, env_settings, toml_source)

    @property
    def store_uri(self) -> str:
        return self.db or str(self.data_dir / "store")

    @property
    def store_options(self) -> dict[str, str]:
        """LanceDB storage options for the store: configured ones completed from AWS_* variables."""
        return object_store_options(self.store_uri, self.storage_options, os.environ)

    @property
    def ledger_database_url(self) -> str:
        return self.ledger_url or f"sqlite:///{self.data_dir / 'ledger.sqlite3'}"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment and config file, then apply non-None overrides.

    A config file that is missing when named, is not TOML, or contains a key no setting has is an
    InputError naming the file: a misspelt `api_token` must not start a server without one.
    """
    path = default_config_file()
    _check_config_file(path, named="HEADSTART_CONFIG" in os.environ)
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{_setting_source(error['loc'], path)}: {error['msg']} (got {error.get('input')!r})"
            for error in exc.errors()
        )
        raise InputError(
            f"invalid settings: {problems}; fix the value (README, Configuration, lists the settings)"
        ) from None


def _setting_source(location: tuple[Any, ...], path: Path) -> str:
    """Name where an invalid setting came from: its environment variable, else the config file."""
    name = ".".join(str(part) for part in location)
    variable = f"HEADSTART_{str(location[0]).upper()}" if location else ""
    if variable in os.environ:
        return f"{name} (from {variable})"
    if path.exists():
        return f"{name} (from {str(path)!r})"
    return name


def _check_config_file(path: Path, *, named: bool) -> None:
    if not path.exists():
        if named:
            raise InputError(
                f"HEADSTART_CONFIG names {str(path)!r}, which does not exist; create it or unset the variable"
            )
        return
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config file {str(path)!r} is not valid TOML: {exc}; fix that line") from None
    except OSError as exc:
        raise InputError(f"could not read the config file {str(path)!r}: {exc}") from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        known = ", ".join(sorted(Settings.model_fields))
        guesses = [
            f"{close[0]} for {key}"
            for key in unknown
            if (close := difflib.get_close_matches(key, Settings.model_fields, n=1))
        ]
        hint = f"did you mean {', '.join(guesses)}? " if guesses else ""
        raise InputError(
            f"config file {str(path)!r} has keys no setting has: {', '.join(unknown)}; "
            f"{hint}check their spelling (settings: {known})"
        )
