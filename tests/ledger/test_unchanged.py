"""An ingest that finds every file unchanged reports from the checkpoints alone, as the full one would."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headstart.cli.ledger import ledger_app
from headstart.ledger.bulk_load import secondary_indexes
from headstart.ledger.discovery import (
    CLAUDE_CODE,
    CODEX,
    CURSOR_CSV,
    GEMINI_CLI,
    LocalSources,
    discover,
)
from headstart.ledger.sources import claude_code, codex, cursor_csv, gemini_cli
from headstart.ledger.unchanged import (
    USAGE_INDEXES,
    StoredCheckpoints,
    count_unchanged,
    sqlite_path,
)

from .helpers import claude_line, write_jsonl

runner = CliRunner()


def make_logs(root: Path) -> list[Path]:
    return [
        write_jsonl(
            root / "projects" / "p" / f"s{number}.jsonl", [claude_line(f"m{number}", f"r{number}")]
        )
        for number in range(3)
    ]


def ingest(url: str, root: Path) -> dict:
    result = runner.invoke(
        ledger_app,
        [
            "ingest",
            "--database",
            url,
            "--claude-dir",
            str(root),
            "--codex-home",
            str(root),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def files_of(root: Path) -> list[tuple[str, Path]]:
    return discover(LocalSources(claude_dirs=[root], codex_homes=[root]))


def test_reader_names_match_the_sources() -> None:
    assert (CLAUDE_CODE, CODEX, GEMINI_CLI, CURSOR_CSV) == (
        claude_code.READER,
        codex.READER,
        gemini_cli.READER,
        cursor_csv.READER,
    )


def test_usage_indexes_match_the_models() -> None:
    assert sorted(USAGE_INDEXES) == sorted(str(index.name) for index in secondary_indexes())


def test_unchanged_ingest_reports_as_full_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_logs(tmp_path / "logs")
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    first = ingest(url, tmp_path / "logs")

    quick = ingest(url, tmp_path / "logs")
    monkeypatch.setattr(StoredCheckpoints, "count_unchanged", lambda self, files: None)
    full = ingest(url, tmp_path / "logs")

    assert first["inserted"] == 3
    assert quick == full
    assert quick["files_unchanged"] == 3
    assert quick["files_read"] == 0


def test_unchanged_ingest_skips_the_database_layer(tmp_path: Path) -> None:
    make_logs(tmp_path / "logs")
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    ingest(url, tmp_path / "logs")
    script = (
        "import sys\n"
        "from headstart.cli.ledger import ledger_app\n"
        "ledger_app(sys.argv[1:], standalone_mode=False)\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    arguments = [
        "ingest",
        "--database",
        url,
        "--claude-dir",
        str(tmp_path / "logs"),
        "--codex-home",
        str(tmp_path / "logs"),
    ]

    result = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HEADSTART_CONFIG": os.devnull},
    )

    assert result.stdout.strip().splitlines()[-1] == "False"
    assert "unchanged: 3" in result.stdout


def test_count_unchanged_when_every_file_matches(tmp_path: Path) -> None:
    make_logs(tmp_path / "logs")
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    ingest(url, tmp_path / "logs")

    assert count_unchanged(url, files_of(tmp_path / "logs")) == 3


@pytest.mark.parametrize("change", ["grown", "touched", "new file", "replaced"])
def test_count_unchanged_none_when_a_file_changed(tmp_path: Path, change: str) -> None:
    paths = make_logs(tmp_path / "logs")
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    ingest(url, tmp_path / "logs")

    if change == "grown":
        write_jsonl(paths[0], [claude_line("m9", "r9")])
    elif change == "touched":
        stat = paths[1].stat()
        os.utime(paths[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    elif change == "new file":
        write_jsonl(tmp_path / "logs" / "projects" / "p" / "s9.jsonl", [claude_line("m9", "r9")])
    else:
        content = paths[2].read_bytes()
        paths[2].unlink()
        paths[2].write_bytes(content)

    assert count_unchanged(url, files_of(tmp_path / "logs")) is None
    # The full ingest then runs, reads what grew and remembers the new times.
    ingest(url, tmp_path / "logs")
    assert count_unchanged(url, files_of(tmp_path / "logs")) == len(files_of(tmp_path / "logs"))


def test_count_unchanged_none_when_index_missing(tmp_path: Path) -> None:
    make_logs(tmp_path / "logs")
    database = tmp_path / "ledger.sqlite3"
    url = f"sqlite:///{database}"
    ingest(url, tmp_path / "logs")
    connection = sqlite3.connect(database)
    connection.execute(f"DROP INDEX {USAGE_INDEXES[0]}")
    connection.commit()
    connection.close()

    assert count_unchanged(url, files_of(tmp_path / "logs")) is None
    ingest(url, tmp_path / "logs")
    assert count_unchanged(url, files_of(tmp_path / "logs")) == 3


def test_count_unchanged_none_when_schema_is_old(tmp_path: Path) -> None:
    make_logs(tmp_path / "logs")
    database = tmp_path / "ledger.sqlite3"
    url = f"sqlite:///{database}"
    ingest(url, tmp_path / "logs")
    connection = sqlite3.connect(database)
    connection.execute("UPDATE alembic_version SET version_num = '0002'")
    connection.commit()
    connection.close()

    assert count_unchanged(url, files_of(tmp_path / "logs")) is None


def test_count_unchanged_none_without_usable_database(tmp_path: Path) -> None:
    make_logs(tmp_path / "logs")
    files = files_of(tmp_path / "logs")
    (tmp_path / "not-a-ledger.sqlite3").write_text("plain text\n")

    assert count_unchanged(f"sqlite:///{tmp_path / 'missing.sqlite3'}", files) is None
    assert count_unchanged(f"sqlite:///{tmp_path / 'not-a-ledger.sqlite3'}", files) is None
    assert count_unchanged("postgresql+psycopg://postgres@127.0.0.1:5432/test", files) is None
    assert count_unchanged(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", []) is None


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////data/ledger.sqlite3", Path("/data/ledger.sqlite3")),
        ("sqlite:///ledger.sqlite3", Path("ledger.sqlite3")),
        ("sqlite:///ledger.sqlite3?mode=ro", None),
        ("sqlite:///:memory:", None),
        ("sqlite://", None),
        ("postgresql+psycopg://host/db", None),
    ],
)
def test_sqlite_path_of_url(url: str, path: Path | None) -> None:
    assert sqlite_path(url) == path
