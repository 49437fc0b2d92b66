from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from headstart.ledger.ingest import record_events
from headstart.ledger.local import LocalSources, discover, ingest_local
from headstart.ledger.otlp import parse_logs

from .helpers import records, totals
from .test_otlp import logs_request


def response(
    prompt: int,
    cached: int,
    output: int,
    thoughts: int = 0,
    stamp: str = "2026-11-02T10:00:00.000Z",
) -> dict[str, Any]:
    return {
        "hrTime": [1793613600, 0],
        "resource": {"attributes": {"service.name": "gemini-cli", "team.id": "platform"}},
        "attributes": {
            "session.id": "g-1",
            "user.email": "dev@example.com",
            "event.name": "gemini_cli.api_response",
            "event.timestamp": stamp,
            "model": "test-gemini",
            "input_token_count": prompt,
            "output_token_count": output,
            "cached_content_token_count": cached,
            "thoughts_token_count": thoughts,
            "tool_token_count": 0,
            "total_token_count": prompt + output + thoughts,
            "prompt_id": "p-1",
        },
        "_body": "API response from test-gemini.",
    }


def write_pretty(path: Path, records_: list[dict[str, Any]]) -> Path:
    with path.open("a") as handle:
        for record in records_:
            handle.write(json.dumps(record, indent=2) + "\n")
    return path


def ingest(ledger, path: Path, prices, teams):
    return ingest_local(
        ledger,
        LocalSources(gemini_files=[path], claude_dirs=[path.parent], codex_homes=[path.parent]),
        prices=prices,
        teams=teams,
    )


def test_cached_part_of_prompt(ledger, tmp_path, prices, teams) -> None:
    path = write_pretty(tmp_path / "telemetry.log", [response(29065, 28634, 100, thoughts=40)])

    ingest(ledger, path, prices, teams)

    result = totals(ledger)
    assert result["input"] == 431
    assert result["cache_read"] == 28634
    assert result["output"] == 140
    assert result["reasoning"] == 40
    assert result["cost"] == Decimal("0.005518")


def test_other_events_ignored(ledger, tmp_path, prices, teams) -> None:
    other = {"attributes": {"event.name": "gemini_cli.user_prompt", "prompt_length": 5}}
    metrics = {"resource": {}, "scopeMetrics": []}
    path = write_pretty(tmp_path / "telemetry.log", [other, metrics, response(10, 0, 1)])

    report = ingest(ledger, path, prices, teams)

    assert totals(ledger)["requests"] == 1
    assert report.skipped == {}


def test_team_and_engineer(ledger, tmp_path, prices, teams) -> None:
    path = write_pretty(tmp_path / "telemetry.log", [response(10, 0, 1)])

    ingest(ledger, path, prices, teams)

    [record] = records(ledger)
    assert record.team_id is not None
    assert record.engineer_id is not None


def test_corrupt_record_skipped(ledger, tmp_path, prices, teams) -> None:
    path = tmp_path / "telemetry.log"
    write_pretty(path, [response(10, 0, 1, stamp="2026-11-02T10:00:00Z")])
    with path.open("a") as handle:
        handle.write('{\n  "attributes": {\n    "event.name": \n}\n')
    write_pretty(path, [response(20, 0, 2, stamp="2026-11-02T10:00:05Z")])

    report = ingest(ledger, path, prices, teams)

    assert totals(ledger)["input"] == 30
    assert report.skipped == {"corrupt or truncated JSON record": 1}


def test_torn_tail_retried(ledger, tmp_path, prices, teams) -> None:
    path = tmp_path / "telemetry.log"
    full = json.dumps(response(10, 0, 1, stamp="2026-11-02T10:00:09Z"), indent=2) + "\n"
    path.write_text(json.dumps(response(5, 0, 1), indent=2) + "\n" + full[:40])
    ingest(ledger, path, prices, teams)
    assert totals(ledger)["input"] == 5

    with path.open("a") as handle:
        handle.write(full[40:])
    report = ingest(ledger, path, prices, teams)

    assert totals(ledger)["input"] == 15
    assert report.skipped == {}


def test_outfile_from_settings(tmp_path: Path) -> None:
    home = tmp_path / "home"
    outfile = tmp_path / "gemini.log"
    outfile.write_text("")
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text(
        json.dumps({"telemetry": {"enabled": True, "outfile": str(outfile)}})
    )

    found = discover(LocalSources(), {}, home)

    assert found == [("gemini_cli", outfile)]


def test_file_and_otlp_one_record(ledger, tmp_path, prices, teams) -> None:
    record = response(prompt=29065, cached=28634, output=40, thoughts=60)
    ingest(ledger, write_pretty(tmp_path / "telemetry.log", [record]), prices, teams)

    # The OTLP exporter sends the same log record, with the same attributes.
    request = logs_request(
        [("API response", record["attributes"])],
        resource=record["resource"]["attributes"],
        scope="gemini-cli",
    )
    report = record_events(ledger, parse_logs(request).events, prices=prices, teams=teams)

    assert report.inserted == 0
    assert report.duplicates == 1
    [stored] = records(ledger)
    assert stored.input_tokens == 431
    assert stored.cache_read_tokens == 28634
    assert stored.output_tokens == 100
    assert stored.request_id is None
    assert stored.attributes["prompt_id"] == "p-1"


def test_two_requests_one_prompt(ledger, tmp_path, prices, teams) -> None:
    # One prompt made two API requests; prompt_id is shared, so it is not a request id.
    path = write_pretty(
        tmp_path / "telemetry.log",
        [
            response(prompt=100, cached=0, output=10, stamp="2026-11-02T10:00:00.000Z"),
            response(prompt=200, cached=0, output=20, stamp="2026-11-02T10:00:05.000Z"),
        ],
    )

    ingest(ledger, path, prices, teams)

    assert totals(ledger)["requests"] == 2
    assert totals(ledger)["input"] == 300


def test_invalid_token_count_skipped(ledger, tmp_path, prices, teams) -> None:
    broken = response(500, 0, 10, stamp="2026-11-02T10:00:05.000Z")
    broken["attributes"]["output_token_count"] = "lots"
    path = write_pretty(tmp_path / "telemetry.log", [response(29065, 28634, 100), broken])

    report = ingest(ledger, path, prices, teams)

    assert totals(ledger)["requests"] == 1
    assert report.skipped["invalid token count 'lots' in output_token_count"] == 1
