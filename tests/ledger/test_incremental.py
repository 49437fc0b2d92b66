from __future__ import annotations

import os
from pathlib import Path

from headstart.ledger.local import LocalSources, ingest_local

from .helpers import claude_line, totals, write_jsonl


def ingest(ledger, root: Path, prices, teams):
    return ingest_local(
        ledger, LocalSources(claude_dirs=[root], codex_homes=[root]), prices=prices, teams=teams
    )


def make_tree(root: Path, files: int = 3) -> list[Path]:
    paths = []
    for index in range(files):
        path = root / "projects" / f"p{index}" / f"s{index}.jsonl"
        write_jsonl(
            path,
            [
                claude_line(f"m{index}-{n}", f"r{index}-{n}", session=f"s{index}", output_tokens=10)
                for n in range(20)
            ],
        )
        paths.append(path)
    return paths


def test_unchanged_tree_reads_nothing(ledger, tmp_path, prices, teams) -> None:
    make_tree(tmp_path)
    first = ingest(ledger, tmp_path, prices, teams)

    second = ingest(ledger, tmp_path, prices, teams)

    assert first.files_read == 3
    assert second.files_read == 0
    assert second.files_unchanged == 3
    assert second.bytes_read == 0
    assert second.events == 0


def test_grown_file_read_from_end(ledger, tmp_path, prices, teams) -> None:
    [path] = make_tree(tmp_path, files=1)
    ingest(ledger, tmp_path, prices, teams)
    size = path.stat().st_size

    write_jsonl(path, [claude_line("new", "new", session="s0", output_tokens=5)])
    report = ingest(ledger, tmp_path, prices, teams)

    assert report.bytes_read == path.stat().st_size - size
    assert report.events == 1
    assert totals(ledger)["output"] == 205


def test_torn_last_line_waits(ledger, tmp_path, prices, teams) -> None:
    path = tmp_path / "projects" / "p" / "s.jsonl"
    write_jsonl(path, [claude_line("a", "a", output_tokens=1)])
    import json

    tail = json.dumps(claude_line("b", "b", output_tokens=2), separators=(",", ":"))
    with path.open("a") as handle:
        handle.write(tail[:30])
    first = ingest(ledger, tmp_path, prices, teams)

    with path.open("a") as handle:
        handle.write(tail[30:] + "\n")
    second = ingest(ledger, tmp_path, prices, teams)

    assert first.skipped == {}
    assert second.skipped == {}
    assert totals(ledger)["output"] == 3


def test_replaced_file_reread(ledger, tmp_path, prices, teams) -> None:
    path = tmp_path / "projects" / "p" / "s.jsonl"
    write_jsonl(
        path, [claude_line("a", "a", output_tokens=1), claude_line("b", "b", output_tokens=2)]
    )
    ingest(ledger, tmp_path, prices, teams)

    replacement = tmp_path / "replacement.jsonl"
    write_jsonl(replacement, [claude_line("c", "c", output_tokens=4)])
    os.replace(replacement, path)
    report = ingest(ledger, tmp_path, prices, teams)

    assert report.events == 1
    assert totals(ledger)["output"] == 7


def test_touched_file_not_reread(ledger, tmp_path, prices, teams) -> None:
    [path] = make_tree(tmp_path, files=1)
    ingest(ledger, tmp_path, prices, teams)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))

    report = ingest(ledger, tmp_path, prices, teams)

    assert report.bytes_read == 0
    assert report.events == 0
