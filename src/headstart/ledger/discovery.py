"""The locations of the coding agents' local logs, and the reader each file needs.

Kept free of the ledger's database and parsing modules, so an ingest that finds every file
unchanged can report before importing them (`headstart.ledger.unchanged`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from headstart.ledger.errors import LedgerInputError

# The `READER` names of the modules in `headstart.ledger.sources`.
CLAUDE_CODE = "claude_code"
CODEX = "codex"
GEMINI_CLI = "gemini_cli"
CURSOR_CSV = "cursor_csv"


@dataclass
class LocalSources:
    """Folders and files to read; empty lists mean "use the defaults" for Claude Code and Codex."""

    claude_dirs: list[Path] = field(default_factory=list)
    codex_homes: list[Path] = field(default_factory=list)
    gemini_files: list[Path] = field(default_factory=list)
    cursor_csvs: list[Path] = field(default_factory=list)


def default_claude_dirs(environ: Mapping[str, str], home: Path) -> list[Path]:
    """Claude Code's config folders: `CLAUDE_CONFIG_DIR` (comma-separated) or the two defaults."""
    if environ.get("CLAUDE_CONFIG_DIR"):
        return [
            Path(part.strip()).expanduser()
            for part in environ["CLAUDE_CONFIG_DIR"].split(",")
            if part.strip()
        ]
    return [home / ".config" / "claude", home / ".claude"]


def default_codex_homes(environ: Mapping[str, str], home: Path) -> list[Path]:
    return [
        Path(environ["CODEX_HOME"]).expanduser() if environ.get("CODEX_HOME") else home / ".codex"
    ]


def default_gemini_files(environ: Mapping[str, str], home: Path) -> list[Path]:
    """Return the telemetry outfile named by `GEMINI_TELEMETRY_OUTFILE` or ~/.gemini/settings.json."""
    if environ.get("GEMINI_TELEMETRY_OUTFILE"):
        return [Path(environ["GEMINI_TELEMETRY_OUTFILE"]).expanduser()]
    settings = home / ".gemini" / "settings.json"
    try:
        telemetry = json.loads(settings.read_text(encoding="utf-8")).get("telemetry", {})
    except (OSError, ValueError, AttributeError):
        return []
    outfile = telemetry.get("outfile") if isinstance(telemetry, dict) else None
    return [Path(outfile).expanduser()] if isinstance(outfile, str) and outfile else []


def discover(
    sources: LocalSources, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> list[tuple[str, Path]]:
    """List (reader, file) pairs to read. Paths given explicitly must exist."""
    environ = os.environ if environ is None else environ
    home = home or Path.home()
    found: list[tuple[str, Path]] = []

    explicit_claude = bool(sources.claude_dirs)
    for folder in sources.claude_dirs or default_claude_dirs(environ, home):
        _require(folder, explicit_claude, "--claude-dir", "a Claude Code config or projects folder")
        projects = folder / "projects" if (folder / "projects").is_dir() else folder
        found.extend((CLAUDE_CODE, path) for path in _jsonl_under(projects))

    explicit_codex = bool(sources.codex_homes)
    for codex_home in sources.codex_homes or default_codex_homes(environ, home):
        _require(codex_home, explicit_codex, "--codex-home", "a Codex home folder (CODEX_HOME)")
        for sub in ("sessions", "archived_sessions"):
            found.extend((CODEX, path) for path in _jsonl_under(codex_home / sub))

    explicit_gemini = bool(sources.gemini_files)
    for path in sources.gemini_files or default_gemini_files(environ, home):
        if _require(
            path, explicit_gemini, "--gemini-file", "a Gemini CLI telemetry outfile", file=True
        ):
            found.append((GEMINI_CLI, path))

    for path in sources.cursor_csvs:
        _require(path, True, "--cursor-csv", "a Cursor usage CSV export", file=True)
        found.append((CURSOR_CSV, path))
    return found


def searched_places(
    sources: LocalSources, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> list[str]:
    """Name the folders and files `discover` reads, for a message when it finds no log."""
    environ = os.environ if environ is None else environ
    home = home or Path.home()
    places = [
        f"{folder}/projects" for folder in sources.claude_dirs or default_claude_dirs(environ, home)
    ]
    for codex_home in sources.codex_homes or default_codex_homes(environ, home):
        places += [f"{codex_home}/sessions", f"{codex_home}/archived_sessions"]
    gemini = sources.gemini_files or default_gemini_files(environ, home)
    places += [str(path) for path in gemini] or [
        f"no Gemini CLI telemetry outfile (telemetry.outfile in {home}/.gemini/settings.json)"
    ]
    return places + [str(path) for path in sources.cursor_csvs]


def _require(path: Path, explicit: bool, option: str, expected: str, *, file: bool = False) -> bool:
    exists = path.is_file() if file else path.is_dir()
    if not exists and explicit:
        raise LedgerInputError(
            f"{option} {str(path)!r} not found: expected {expected}; fix the path"
        )
    return exists


def _jsonl_under(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    # Nested folders hold subagent transcripts (…/<session>/subagents/agent-*.jsonl).
    return sorted(path for path in folder.rglob("*.jsonl") if path.is_file())
