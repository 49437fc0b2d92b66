"""`headstart index --github/--import`, credentials, and the redaction every record passes."""

from __future__ import annotations

import json

import pytest
from tracker_fakes import FakeApi, Reply, serve
from typer.testing import CliRunner

from conftest import REPO
from headstart.cli.app import _register, app
from headstart.indexers.trackers import writer
from headstart.indexers.trackers.credentials import tracker_credentials
from headstart.indexers.trackers.http import TrackerError
from headstart.indexers.trackers.imports import import_file
from headstart.store import Embedder, Store

TOKEN = "ghp_clitoken0000000000000000"


@pytest.fixture
def runner() -> CliRunner:
    _register()
    return CliRunner()


def test_cli_github_run(runner, tmp_path, monkeypatch):
    api = FakeApi()
    with serve(api):
        api.add("/repos/acme/widgets", {"full_name": "acme/widgets"})
        api.add(
            "/repos/acme/widgets/issues",
            [
                {
                    "number": 4,
                    "title": "Crash",
                    "body": "",
                    "state": "open",
                    "labels": [{"name": "defect"}],
                    "user": {"login": "ada"},
                    "created_at": "2024-01-01T00:00:00Z",
                    "updated_at": "2024-01-02T00:00:00Z",
                    "html_url": "https://github.com/acme/widgets/issues/4",
                }
            ],
        )
        api.add("/repos/acme/widgets/issues/4/timeline", [])
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("HEADSTART_DATA_DIR", str(tmp_path / "data"))
        result = runner.invoke(
            app,
            [
                "index",
                "--github",
                "acme/widgets",
                "--api-url",
                api.base_url,
                "--repo",
                REPO,
                "--bug-label",
                "defect",
                "--db",
                str(tmp_path / "store"),
            ],
        )

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"{REPO}: 0 pull requests, 0 review comments and 1 bug from github:{REPO}"
    )
    assert api.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    # The checkpoint lives in the store, so a run on another machine resumes from it too.
    store = Store(str(tmp_path / "store"), Embedder("all-MiniLM-L6-v2"))
    assert store.checkpoints.get(f"github:{REPO}@{tmp_path / 'store'}") == "2024-01-02T00:00:00Z"
    assert not (tmp_path / "data" / "trackers" / "checkpoints.json").exists()


def test_cli_wrong_token(runner, tmp_path, monkeypatch):
    api = FakeApi()
    with serve(api):
        api.add("/repos/acme/widgets", Reply(401, {"message": "Bad credentials"}))
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("HEADSTART_DATA_DIR", str(tmp_path / "data"))
        result = runner.invoke(
            app,
            [
                "index",
                "--github",
                "acme/widgets",
                "--api-url",
                api.base_url,
                "--db",
                str(tmp_path / "store"),
            ],
        )

    assert result.exit_code != 0
    assert isinstance(result.exception, TrackerError)
    assert "token was rejected" in str(result.exception)
    assert TOKEN not in str(result.exception)
    assert TOKEN not in result.output


def test_cli_import_reports_skips(runner, tmp_path, monkeypatch):
    path = tmp_path / "issues.json"
    path.write_text(
        json.dumps(
            [
                {
                    "author": {"login": "ada"},
                    "body": "",
                    "createdAt": "2024-01-01T00:00:00Z",
                    "labels": [{"name": "bug"}],
                    "number": 3,
                    "state": "OPEN",
                    "title": "Crash",
                    "url": "https://github.com/acme/widgets/issues/3",
                },
                {
                    "author": {"login": "ada"},
                    "labels": [{"name": "bug"}],
                    "number": 4,
                    "state": "OPEN",
                    "title": "No date",
                    "url": "https://github.com/acme/widgets/issues/4",
                },
            ]
        )
    )
    monkeypatch.setenv("HEADSTART_DATA_DIR", str(tmp_path / "data"))

    result = runner.invoke(app, ["index", "--import", str(path), "--db", str(tmp_path / "store")])

    assert result.exit_code == 0, result.output
    assert f"imported 1 bug into {REPO}" in result.stdout
    assert "skipped: record 2: no createdAt, mergedAt, closedAt or updatedAt" in result.stderr


def test_credentials_from_env_and_file(tmp_path):
    config = tmp_path / "trackers.toml"
    config.write_text(
        '[github]\ntoken = "from-file"\nurl = "https://ghe.example.com/api/v3"\n\n[gitlab]\ntoken = "gl-file"\n'
    )

    from_file = tracker_credentials("github", environ={"HEADSTART_TRACKER_CONFIG": str(config)})
    from_env = tracker_credentials(
        "github", environ={"HEADSTART_TRACKER_CONFIG": str(config), "GITHUB_TOKEN": "from-env"}
    )
    gitlab = tracker_credentials("gitlab", environ={"HEADSTART_TRACKER_CONFIG": str(config)})

    assert (from_file.token, from_file.url) == ("from-file", "https://ghe.example.com/api/v3")
    assert from_env.token == "from-env"
    assert (gitlab.token, gitlab.url) == ("gl-file", "https://gitlab.com")
    assert "from-file" not in repr(from_file)


def test_credentials_missing_file(tmp_path):
    with pytest.raises(TrackerError) as caught:
        tracker_credentials(
            "github", environ={"HEADSTART_TRACKER_CONFIG": str(tmp_path / "none.toml")}
        )

    assert "does not exist" in str(caught.value)


def test_records_pass_redaction(store, tmp_path, monkeypatch):
    seen: list[str] = []

    def spy(record):
        seen.append(record.key)
        return record.model_copy(update={"body": "[redacted]"})

    monkeypatch.setattr(writer, "redact_record", spy)
    path = tmp_path / "issues.json"
    path.write_text(
        json.dumps(
            [
                {
                    "author": {"login": "ada"},
                    "body": "token ghp_abc",
                    "createdAt": "2024-01-01T00:00:00Z",
                    "labels": [{"name": "bug"}],
                    "number": 3,
                    "state": "OPEN",
                    "title": "Crash",
                    "url": "https://github.com/acme/widgets/issues/3",
                }
            ]
        )
    )

    import_file(store, path)

    assert seen == ["#3"]
    assert store.get(REPO, "bug", "#3").body == "[redacted]"
