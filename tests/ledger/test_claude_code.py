from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from headstart.ledger.deliveries import record_delivery, sessions_using_brief
from headstart.ledger.local import LocalSources, discover, ingest_local
from headstart.ledger.models import AgentSession

from .helpers import claude_line, records, totals, write_jsonl

BRIEF = "hsb_0123456789abcdef"


def ingest(ledger, root: Path, prices, teams):
    return ingest_local(ledger, LocalSources(claude_dirs=[root]), prices=prices, teams=teams)


def test_streaming_snapshots_once(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "-work-app" / "s-1.jsonl"
    write_jsonl(
        log,
        [
            claude_line("msg_1", "req_1", output_tokens=2),
            claude_line("msg_1", "req_1", output_tokens=550),
        ],
    )

    ingest(ledger, tmp_path, prices, teams)

    result = totals(ledger)
    assert result["requests"] == 1
    assert result["output"] == 550


def test_snapshot_completed_later(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-1.jsonl"
    write_jsonl(log, [claude_line("msg_1", "req_1", input_tokens=3, output_tokens=2)])
    ingest(ledger, tmp_path, prices, teams)

    write_jsonl(log, [claude_line("msg_1", "req_1", input_tokens=3, output_tokens=550)])
    report = ingest(ledger, tmp_path, prices, teams)

    assert report.updated == 1
    assert totals(ledger)["output"] == 550
    assert totals(ledger)["cost"] == Decimal("0.008259")


def test_content_blocks_counted_once(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-1.jsonl"
    write_jsonl(
        log,
        [
            claude_line(
                "msg_2",
                "req_2",
                cache_creation_input_tokens=15178,
                content=[{"type": "text", "text": "a"}],
            ),
            claude_line(
                "msg_2",
                "req_2",
                cache_creation_input_tokens=15178,
                content=[{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}],
            ),
        ],
    )

    ingest(ledger, tmp_path, prices, teams)

    assert totals(ledger)["cache_write_5m"] == 15178


def test_no_request_id_once(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-1.jsonl"
    write_jsonl(
        log,
        [
            claude_line("msg_3", None, input_tokens=1000),
            claude_line("msg_3", None, input_tokens=1000),
        ],
    )

    ingest(ledger, tmp_path, prices, teams)

    assert totals(ledger)["input"] == 1000


def test_sidechain_replay_once(ledger, tmp_path, prices, teams) -> None:
    parent = tmp_path / "projects" / "p" / "s-1.jsonl"
    sub = tmp_path / "projects" / "p" / "s-1" / "subagents" / "agent-a1.jsonl"
    write_jsonl(parent, [claude_line("msg_P", "req_1", cache_read_input_tokens=80000)])
    write_jsonl(
        sub,
        [
            claude_line("msg_P", "req_9", cache_read_input_tokens=80000, sidechain=True),
            claude_line("msg_S", "req_10", cache_read_input_tokens=5000, sidechain=True),
        ],
    )

    ingest(ledger, tmp_path, prices, teams)

    result = totals(ledger)
    assert result["cache_read"] == 85000
    assert result["requests"] == 2


def test_ttl_split_and_default(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-1.jsonl"
    write_jsonl(
        log,
        [
            claude_line(
                "msg_4",
                "r4",
                cache_creation_input_tokens=3000,
                cache_creation={
                    "ephemeral_5m_input_tokens": 1000,
                    "ephemeral_1h_input_tokens": 2000,
                },
            ),
            claude_line("msg_5", "r5", cache_creation_input_tokens=700),
        ],
    )

    ingest(ledger, tmp_path, prices, teams)

    result = totals(ledger)
    assert result["cache_write_5m"] == 1700
    assert result["cache_write_1h"] == 2000


def test_synthetic_lines_skipped(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-1.jsonl"
    error_line = claude_line("msg_e", "r", input_tokens=10)
    error_line["isApiErrorMessage"] = True
    write_jsonl(log, [claude_line("msg_s", None, model="<synthetic>"), error_line])

    report = ingest(ledger, tmp_path, prices, teams)

    assert totals(ledger)["requests"] == 0
    assert report.skipped["synthetic or API error message (not billed)"] == 2


def test_bad_lines_counted_not_fatal(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-1.jsonl"
    write_jsonl(log, [claude_line("msg_a", "ra", output_tokens=10)])
    with log.open("a") as handle:
        handle.write('{"type":"assistant","message":{"id":"msg_x","usa\n')
        handle.write("not json at all\n")
        handle.write('{"type":"hologram","data":1}\n')
        handle.write("[1, 2]\n")
    write_jsonl(log, [claude_line("msg_b", "rb", output_tokens=20)])

    report = ingest(ledger, tmp_path, prices, teams)

    assert totals(ledger)["output"] == 30
    assert report.skipped["corrupt or truncated JSON line"] == 2
    assert report.skipped["unknown record type 'hologram'"] == 1
    assert report.skipped["JSON line is not an object"] == 1
    assert any("s-1.jsonl:2:" in example for example in report.examples)


def test_invalid_token_counts_skipped(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-1.jsonl"
    write_jsonl(
        log,
        [
            claude_line("msg_a", "ra", output_tokens=10),
            claude_line("msg_b", "rb", input_tokens="lots", output_tokens=5),
            claude_line("msg_c", "rc", output_tokens=-4),
            claude_line("msg_d", "rd", cache_creation={"ephemeral_1h_input_tokens": [1]}),
            claude_line("msg_e", "re", input_tokens="1,200", output_tokens="7"),
        ],
    )

    report = ingest(ledger, tmp_path, prices, teams)

    assert report.inserted == 2
    assert totals(ledger)["output"] == 17
    assert totals(ledger)["input"] == 1200
    assert report.skipped["invalid token count 'lots' in usage.input_tokens"] == 1
    assert report.skipped["invalid token count -4 in usage.output_tokens"] == 1
    assert report.skipped["invalid token count [1] in usage.ephemeral_1h_input_tokens"] == 1
    assert any("s-1.jsonl:2:" in example for example in report.examples)


def test_unknown_model_counted(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-1.jsonl"
    write_jsonl(
        log, [claude_line("msg_n", "rn", model="claude-opus-9", input_tokens=100, output_tokens=50)]
    )

    report = ingest(ledger, tmp_path, prices, teams)

    [record] = records(ledger)
    assert record.output_tokens == 50
    assert record.computed_cost is None
    assert record.priced is False
    assert report.unpriced_models == {"claude-opus-9": 1}


def test_attribution_fields(ledger, tmp_path, prices, teams) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    import pygit2

    git = pygit2.init_repository(str(repo))
    git.remotes.create("origin", "git@github.com:Acme/Api.git")
    line = claude_line("msg_r", "rr", output_tokens=1)
    line["cwd"] = str(repo)
    line["gitBranch"] = "feature/x"
    write_jsonl(tmp_path / "cfg" / "projects" / "p" / "s-1.jsonl", [line])

    ingest_local(ledger, LocalSources(claude_dirs=[tmp_path / "cfg"]), prices=prices, teams=teams)

    [record] = records(ledger)
    assert record.repository == "github.com/acme/api"
    assert record.branch == "feature/x"
    assert record.engineer_id is not None


def test_brief_linked_to_session(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-7.jsonl"
    call = claude_line(
        "msg_c",
        "rc",
        session="s-7",
        output_tokens=5,
        content=[
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "mcp__headstart__get_task_brief",
                "input": {},
            }
        ],
    )
    result = {
        "type": "user",
        "sessionId": "s-7",
        "timestamp": "2026-11-02T10:00:01Z",
        "message": {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": f"Brief {BRIEF}\n..."}],
                }
            ],
        },
    }
    unrelated = {
        "type": "user",
        "sessionId": "s-7",
        "message": {
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_other",
                    "content": "hsb_ffffffffffffffff",
                }
            ]
        },
    }
    write_jsonl(
        log, [call, result, unrelated, claude_line("msg_d", "rd", session="s-7", output_tokens=7)]
    )
    record_delivery(ledger, BRIEF, "fix the parser", "github.com/acme/api", ["src/a.py"], 812)

    report = ingest(ledger, tmp_path, prices, teams)

    assert report.brief_links == 1
    [session] = sessions_using_brief(ledger, BRIEF)
    assert session.session_id == "s-7"
    assert sessions_using_brief(ledger, "hsb_ffffffffffffffff") == []


def test_brief_result_in_next_read(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-8.jsonl"
    call = claude_line(
        "msg_c",
        "rc",
        session="s-8",
        content=[
            {"type": "tool_use", "id": "toolu_2", "name": "mcp__hs__get_task_brief", "input": {}}
        ],
    )
    write_jsonl(log, [call])
    ingest(ledger, tmp_path, prices, teams)

    result = {
        "type": "user",
        "sessionId": "s-8",
        "message": {
            "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": BRIEF}]
        },
    }
    write_jsonl(log, [result, claude_line("msg_e", "re", session="s-8", output_tokens=1)])
    ingest(ledger, tmp_path, prices, teams)

    assert [s.session_id for s in sessions_using_brief(ledger, BRIEF)] == ["s-8"]


def test_discover_config_dirs(tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "a" / "projects" / "p" / "s.jsonl", [])
    nested = write_jsonl(
        tmp_path / "b" / "projects" / "p" / "s" / "subagents" / "agent-1.jsonl", []
    )
    home = tmp_path / "home"
    default = write_jsonl(home / ".claude" / "projects" / "q" / "t.jsonl", [])

    configured = discover(
        LocalSources(), {"CLAUDE_CONFIG_DIR": f"{tmp_path / 'a'},{tmp_path / 'b'}"}, home
    )
    defaults = discover(LocalSources(), {}, home)

    assert [path for _, path in configured] == [first, nested]
    assert [path for _, path in defaults] == [default]


def test_sessions_recorded(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-1.jsonl"
    write_jsonl(
        log,
        [
            claude_line("m1", "r1", timestamp="2026-11-02T10:00:00Z", output_tokens=1),
            claude_line("m2", "r2", timestamp="2026-11-02T11:30:00Z", output_tokens=1),
        ],
    )

    ingest(ledger, tmp_path, prices, teams)

    with ledger.session() as session:
        [row] = session.scalars(select(AgentSession)).all()
    assert row.external_id == "s-1"
    assert row.first_seen.hour == 10
    assert row.last_seen.hour == 11


def test_resumed_file_numbers_lines_from_its_start(ledger, tmp_path, prices, teams) -> None:
    log = tmp_path / "projects" / "p" / "s-1.jsonl"
    write_jsonl(log, [claude_line(f"msg_{n}", f"r{n}", output_tokens=1) for n in range(3)])
    ingest(ledger, tmp_path, prices, teams)
    with log.open("a") as handle:
        handle.write("not json at all\n")

    report = ingest(ledger, tmp_path, prices, teams)

    assert report.skipped["corrupt or truncated JSON line"] == 1
    assert report.examples == [f"{log}:4: corrupt or truncated JSON line"]


def test_line_numbers_count_blank_and_passed_over_lines(tmp_path) -> None:
    from headstart.ledger.report import IngestReport
    from headstart.ledger.sources.cursors import FileCursor
    from headstart.ledger.sources.lines import LINES_READ, json_lines

    log = tmp_path / "s.jsonl"
    log.write_text('{"a": 1}\n\n{"skip": true}\n{"b": 2}\n{"c": 3')
    cursor = FileCursor(log, "claude_code", log.stat())

    wanted = lambda raw: b"skip" not in raw
    first = [where for where, _ in json_lines(cursor, IngestReport(), wanted)]
    with log.open("a") as handle:
        handle.write("}\n")
    second = [where for where, _ in json_lines(cursor, IngestReport())]
    # A checkpoint from before line counts were kept: numbered from the resume point.
    old = FileCursor(log, "claude_code", log.stat(), offset=cursor.offset - 9)

    assert first == [f"{log}:1", f"{log}:4"]  # the torn last line waits for the next read
    assert cursor.state[LINES_READ] == 5
    assert second == [f"{log}:5"]
    assert [where for where, _ in json_lines(old, IngestReport())] == [f"{log}:+1"]
