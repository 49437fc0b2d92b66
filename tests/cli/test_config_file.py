"""A config file that is missing, not TOML, misspelt or contains a bad value stops every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from headstart.config import load_settings
from headstart.errors import InputError


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("api_token = \n", "is not valid TOML: Invalid value (at line 1, column 13); fix that line"),
        ('api_tokn = "secret"\n', "has keys no setting has: api_tokn; did you mean api_token for api_tokn? check"),
        ('max_tokens = "many"\n', "max_tokens (from '"),
        ('[[repositories]]\npat = "/srv/git/api"\n', "repositories.0.pat (from '"),
    ],
)
def test_bad_config_file_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    config = tmp_path / "headstart.toml"
    config.write_text(text)
    monkeypatch.setenv("HEADSTART_CONFIG", str(config))

    with pytest.raises(InputError) as raised:
        load_settings()

    assert str(config) in str(raised.value)
    assert message in str(raised.value)


def test_command_stops_on_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "headstart.toml"
    config.write_text('api_tokn = "secret"\n')

    done = subprocess.run(
        [sys.executable, "-m", "headstart.cli", "report", "spend"],
        env={**os.environ, "HEADSTART_CONFIG": str(config), "HEADSTART_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2
    assert done.stderr.startswith(f"error: config file {str(config)!r} has keys no setting has: api_tokn")
    assert "Traceback" not in done.stderr


def test_missing_config_file_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere.toml"
    monkeypatch.setenv("HEADSTART_CONFIG", str(missing))

    with pytest.raises(InputError, match="HEADSTART_CONFIG names .*nowhere.toml.*, which does not exist"):
        load_settings()


def test_good_config_file_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "headstart.toml"
    config.write_text('api_token = "secret"\nmax_tokens = 900\n')
    monkeypatch.setenv("HEADSTART_CONFIG", str(config))

    settings = load_settings()

    assert (settings.api_token, settings.max_tokens) == ("secret", 900)


def test_bad_environment_value_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADSTART_CONFIG", os.devnull)
    monkeypatch.setenv("HEADSTART_MAX_TOKENS", "lots")

    with pytest.raises(InputError) as raised:
        load_settings()

    assert "max_tokens (from HEADSTART_MAX_TOKENS): Input should be a valid integer" in str(raised.value)
    assert "(got 'lots')" in str(raised.value)
