"""Settings shared by every part of Headstart.

Values come, highest priority first, from keyword arguments, `HEADSTART_*` environment
variables, the TOML file named by `HEADSTART_CONFIG` (default: `headstart.toml` in the user
config directory), and the defaults below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "headstart"
DEFAULT_MODEL = "all-MiniLM-L6-v2"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_file(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if "HEADSTART_CONFIG" in environ:
        return Path(environ["HEADSTART_CONFIG"]).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "headstart.toml"


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
    model: str = Field(default=DEFAULT_MODEL, description="sentence-transformers model name or path.")
    device: str | None = Field(default=None, description="torch device for embedding (cpu, cuda, mps).")
    embed_batch_size: int = Field(default=64, ge=1, description="Texts per embedding batch.")
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
    teams_file: Path | None = Field(default=None, description="teams.toml mapping people to teams.")
    prices_file: Path | None = Field(default=None, description="Price overrides (TOML).")

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
    def ledger_database_url(self) -> str:
        return self.ledger_url or f"sqlite:///{self.data_dir / 'ledger.sqlite3'}"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment and config file, then apply non-None overrides."""
    return Settings(**{key: value for key, value in overrides.items() if value is not None})
