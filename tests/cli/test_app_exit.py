"""The command line leaves its objects to the operating system on exit, after closing its files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.ledger.helpers import claude_line, write_jsonl

# Registered before main(), so it runs after main's own exit handler (they run last in, first out).
SCRIPT = """
import atexit, gc, sys
atexit.register(lambda: print("FROZEN", gc.get_freeze_count() > 0))
sys.argv = ["headstart", *sys.argv[1:]]
from headstart.cli.app import main
main()
"""


def _run(home: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    # A home of its own, so no log or config file of the machine's user is read.
    environment = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


def test_objects_are_frozen_before_the_interpreter_exits(tmp_path: Path) -> None:
    done = _run(tmp_path, "ledger", "--help")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "FROZEN True"


def test_ingest_output_and_ledger_are_complete_on_exit(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    log = tree / "projects" / "-work-app" / "session.jsonl"
    write_jsonl(log, [claude_line(f"msg_{n}", f"req_{n}", output_tokens=10 + n) for n in range(3)])
    database = tmp_path / "ledger.db"

    done = _run(
        tmp_path,
        "ledger",
        "ingest",
        "--database",
        f"sqlite:///{database}",
        "--claude-dir",
        str(tree),
        "--codex-home",
        str(tree),
        "--json",
    )

    assert done.returncode == 0, done.stderr
    report_line, frozen = done.stdout.splitlines()[-2:]
    assert json.loads(report_line)["inserted"] == 3
    assert frozen == "FROZEN True"
    with sqlite3.connect(database) as connection:
        outputs = connection.execute(
            "SELECT output_tokens FROM usage_records ORDER BY 1"
        ).fetchall()
    assert outputs == [(10,), (11,), (12,)]
