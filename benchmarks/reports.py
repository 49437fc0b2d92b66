"""Benchmark the leaders' reports on a ledger of 1,000,000+ usage records, SQLite and PostgreSQL.

Fills a new ledger with generated usage: 50 teams of 10 engineers, 4 tools, 6 models, 100
repositories, and 6 months of requests grouped into sessions of 20, each session with a work
outcome row as `analyze_outcomes` writes it. Rows are bulk inserted (executemany on SQLite,
COPY on PostgreSQL). Then each report runs `--repeat` times and the median wall time is
compared with a reference query over the same table: `SELECT count(*), sum(computed_cost)`.

PostgreSQL runs in a schema of its own, created and dropped by the script.

Usage: python benchmarks/reports.py [--records 1000000] [--repeat 5] [--postgres URL]
       [--no-sqlite] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.models import UsageRecord
from headstart.ledger.reports import (
    ReportQuery,
    brief_cohorts,
    budget_report,
    compare_report,
    efficiency_report,
    sessions_report,
    spend_report,
    verdict_report,
)
from headstart.ledger.reports.rollup import refresh_daily
from headstart.ledger.teams import TeamBudget

TEAMS = 50
ENGINEERS_PER_TEAM = 10
TOOLS = ("claude_code", "codex", "cursor", "gemini_cli")
MODELS = ("sonnet", "opus", "haiku", "gpt-5", "gpt-5-mini", "gemini-2.5-pro")
REPOSITORIES = 100
PER_SESSION = 20
START = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = 183
CLASSES = ("productive", "inefficient", "wasteful", "pending")
WORK_TYPES = ("feature", "bugfix", "refactor", "test", "docs", "chore")
NANOS = 10**9
# Requests reach the ledger a little after they were made, as a scheduled ingest would read them.
INGEST_DELAY = timedelta(minutes=2)

USAGE_COLUMNS = (
    "id", "dedup_key", "source", "tool", "model", "timestamp", "session_id", "input_tokens",
    "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens",
    "reasoning_tokens", "computed_cost", "priced", "engineer_id", "team_id", "repository",
    "attributes", "ingested_at",
)  # fmt: skip
SESSION_COLUMNS = (
    "id", "tool", "external_id", "engineer_id", "team_id", "repository", "first_seen", "last_seen",
)  # fmt: skip
OUTCOME_COLUMNS = (
    "id", "unit", "session_id", "counted", "tool", "model", "repository", "team_id",
    "engineer_id", "started_at", "ended_at", "work_type", "classification", "reasons",
    "requests", "tokens", "cost", "commits", "pull_requests", "merged_pull_requests", "merged",
    "reverted", "reworked", "looped", "abandoned", "first_try", "has_brief", "evidence",
    "analyzed_at",
)  # fmt: skip


def generate(records: int, seed: int = 11) -> dict[str, list[tuple[Any, ...]]]:
    """Return the rows of every table, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    sessions = records // PER_SESSION
    engineers = TEAMS * ENGINEERS_PER_TEAM

    engineer_of = rng.integers(1, engineers + 1, size=sessions)
    team_of = (engineer_of - 1) // ENGINEERS_PER_TEAM + 1
    tool_of = rng.integers(0, len(TOOLS), size=sessions)
    model_of = rng.integers(0, len(MODELS), size=sessions)
    repo_of = rng.integers(0, REPOSITORIES, size=sessions)
    start_seconds = rng.integers(0, DAYS * 86400 - 4 * 3600, size=sessions)

    now = START + timedelta(days=DAYS)
    usage: list[tuple[Any, ...]] = []
    session_rows: list[tuple[Any, ...]] = []
    outcome_rows: list[tuple[Any, ...]] = []
    tokens = rng.integers(2_000, 60_000, size=records)
    outputs = rng.integers(100, 4_000, size=records)
    steps = rng.integers(30, 600, size=records)
    row = 0
    for session in range(sessions):
        first = START + timedelta(seconds=int(start_seconds[session]))
        when = first
        team, engineer = int(team_of[session]), int(engineer_of[session])
        tool, model = TOOLS[tool_of[session]], MODELS[model_of[session]]
        repository = f"github.com/acme/repo-{int(repo_of[session])}"
        session_cost = 0
        session_tokens = 0
        for _ in range(PER_SESSION):
            cost = int(tokens[row]) * 3_000 + int(outputs[row]) * 15_000  # nano-USD
            usage.append(
                (
                    row + 1, f"bench:{row}", "bench", tool, model, when, session + 1,
                    int(tokens[row]), 0, 0, 0, int(outputs[row]), 0, cost, True, engineer, team,
                    repository, "{}", when + INGEST_DELAY,
                )
            )  # fmt: skip
            session_cost += cost
            session_tokens += int(tokens[row]) + int(outputs[row])
            when += timedelta(seconds=int(steps[row]))
            row += 1
        session_rows.append(
            (session + 1, tool, f"s-{session}", engineer, team, repository, first, when)
        )
        classification = CLASSES[int(rng.integers(0, len(CLASSES)))]
        merged = classification in ("productive", "inefficient")
        outcome_rows.append(
            (
                f"session:{session + 1}", "session", session + 1, True, tool, model, repository,
                team, engineer, first, when, WORK_TYPES[int(rng.integers(0, 6))], classification,
                "[]", PER_SESSION, session_tokens, session_cost, int(merged), int(merged),
                int(merged), merged, False, bool(rng.random() < 0.1), False, False,
                merged and bool(rng.random() < 0.8), bool(rng.random() < 0.4), "{}", now,
            )
        )  # fmt: skip
    teams = [(team, f"team-{team:02d}", now) for team in range(1, TEAMS + 1)]
    engineer_rows = [
        (e, f"dev{e}@example.com", f"dev{e}@example.com", (e - 1) // ENGINEERS_PER_TEAM + 1, now)
        for e in range(1, engineers + 1)
    ]
    return {
        "teams": teams,
        "engineers": engineer_rows,
        "agent_sessions": session_rows,
        "usage_records": usage,
        "work_outcomes": outcome_rows,
    }


COLUMNS = {
    "teams": ("id", "name", "created_at"),
    "engineers": ("id", "identity", "email", "team_id", "created_at"),
    "agent_sessions": SESSION_COLUMNS,
    "usage_records": USAGE_COLUMNS,
    "work_outcomes": OUTCOME_COLUMNS,
}


def fill_sqlite(ledger: Ledger, data: dict[str, list[tuple[Any, ...]]]) -> None:
    def value(item: Any) -> Any:
        if isinstance(item, datetime):
            return item.strftime("%Y-%m-%d %H:%M:%S.%f")
        return item

    raw = ledger.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, rows in data.items():
            columns = COLUMNS[table]
            statement = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})"
            )
            cursor.executemany(statement, ([value(item) for item in row] for row in rows))
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def fill_postgres(ledger: Ledger, data: dict[str, list[tuple[Any, ...]]]) -> None:
    raw = ledger.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, rows in data.items():
            columns = COLUMNS[table]
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            if "id" in columns and table != "work_outcomes":
                # COPY with explicit ids leaves the sequence behind them.
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                )
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def timed(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def build_rollup(ledger: Ledger) -> float:
    """Build `usage_daily` from scratch, as the first report on a ledger does; return seconds."""
    began = time.perf_counter()
    with ledger.session() as session:
        refresh_daily(session)
    return time.perf_counter() - began


def refresh_after_ingest(ledger: Ledger, data: dict[str, Any], rows: int = 1000) -> float:
    """Append `rows` requests to the last day, then time the rollup's catch-up."""
    last = data["usage_records"][-1]
    now = datetime.now(UTC)
    with ledger.session() as session:
        session.execute(
            UsageRecord.__table__.insert(),
            [
                {
                    "dedup_key": f"bench:late:{index}",
                    "source": "bench",
                    "tool": last[3],
                    "model": last[4],
                    "timestamp": START + timedelta(days=DAYS - 1, seconds=index),
                    "session_id": last[6],
                    "input_tokens": 1000,
                    "cache_read_tokens": 0,
                    "cache_write_5m_tokens": 0,
                    "cache_write_1h_tokens": 0,
                    "output_tokens": 100,
                    "reasoning_tokens": 0,
                    "computed_cost": Decimal("0.0045"),
                    "priced": True,
                    "team_id": last[16],
                    "engineer_id": last[15],
                    "attributes": {},
                    "ingested_at": now,
                }
                for index in range(rows)
            ],
        )
    began = time.perf_counter()
    with ledger.session() as session:
        refresh_daily(session)
    return time.perf_counter() - began


def measure(ledger: Ledger, repeat: int) -> dict[str, float]:
    period = ReportQuery(start=START, end=START + timedelta(days=DAYS))
    month = ReportQuery(start=period.start, end=period.end, granularity="month")
    as_of = START + timedelta(days=DAYS - 10)
    budgets = {f"team-{team:02d}": TeamBudget(amount_usd=5000) for team in range(1, TEAMS + 1)}
    without, with_brief = brief_cohorts()

    def in_session(report: Callable[[Any], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with ledger.session() as session:
                return report(session)

        return run

    cases: dict[str, Callable[[], Any]] = {
        "reference: count(*), sum(cost)": in_session(
            lambda s: s.execute(
                text("SELECT count(*), sum(computed_cost) FROM usage_records")
            ).one()
        ),
        "spend by team, per day": in_session(lambda s: spend_report(s, period, dimension="team")),
        "spend by model, per month": in_session(
            lambda s: spend_report(s, month, dimension="model")
        ),
        "spend by type of work, per month": in_session(
            lambda s: spend_report(s, month, dimension="work_type")
        ),
        "spend of one team (with org baseline)": in_session(
            lambda s: spend_report(s, period, dimension="engineer", team_scope="team-07")
        ),
        "efficiency split": in_session(lambda s: efficiency_report(s, period)),
        "budgets and outliers": in_session(
            lambda s: budget_report(s, period, budgets, as_of=as_of)
        ),
        "verdicts and models": in_session(lambda s: verdict_report(s, period)),
        "before/after (brief)": in_session(
            lambda s: compare_report(s, period, without, with_brief)
        ),
        "sessions, first page": in_session(lambda s: sessions_report(s, period, limit=100)),
    }
    return {name: timed(run, repeat) for name, run in cases.items()}


def run_all(ledger: Ledger, data: dict[str, Any], repeat: int) -> dict[str, float]:
    build = build_rollup(ledger)
    figures = measure(ledger, repeat)
    figures["rollup: first build (once per ledger)"] = build
    figures["rollup: catch-up after 1,000 new requests"] = refresh_after_ingest(ledger, data)
    return figures


def run_sqlite(data: dict[str, Any], workdir: Path, repeat: int) -> dict[str, float]:
    ledger = open_ledger(f"sqlite:///{workdir / 'bench.sqlite3'}")
    try:
        began = time.perf_counter()
        fill_sqlite(ledger, data)
        print(f"sqlite: filled in {time.perf_counter() - began:.1f} s", flush=True)
        return run_all(ledger, data, repeat)
    finally:
        ledger.close()


def run_postgres(url: str, data: dict[str, Any], repeat: int) -> dict[str, float]:
    admin = create_engine(url)
    schema = f"hs_bench_{secrets.token_hex(4)}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    ledger = open_ledger(scoped.render_as_string(hide_password=False))
    try:
        began = time.perf_counter()
        fill_postgres(ledger, data)
        print(f"postgresql: filled in {time.perf_counter() - began:.1f} s", flush=True)
        return run_all(ledger, data, repeat)
    finally:
        ledger.close()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def show(database: str, figures: dict[str, float], repeat: int) -> None:
    reference = figures["reference: count(*), sum(cost)"]
    print(f"\n{database} (median of {repeat}):")
    print(f"| report | {database} (ms) | ratio to reference |")
    print("|---|---:|---:|")
    for name, seconds in figures.items():
        print(f"| {name} | {seconds * 1000:.0f} | {seconds / reference:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL; skipped when absent.")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    arguments = parser.parse_args()

    began = time.perf_counter()
    data = generate(arguments.records)
    print(
        f"generated {len(data['usage_records']):,} usage records, "
        f"{len(data['agent_sessions']):,} sessions in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(dir=arguments.workdir) as workdir:
        if not arguments.no_sqlite:
            results["sqlite"] = run_sqlite(data, Path(workdir), arguments.repeat)
            show("sqlite", results["sqlite"], arguments.repeat)
    if arguments.postgres:
        results["postgresql"] = run_postgres(arguments.postgres, data, arguments.repeat)
        show("postgresql", results["postgresql"], arguments.repeat)

    machine = (
        f"{platform.processor() or platform.machine()}, {platform.system()} {platform.release()}"
    )
    print(f"\nmachine: {machine}, {os.cpu_count()} cores, python {platform.python_version()}")

    print(json.dumps({db: {k: round(v, 4) for k, v in f.items()} for db, f in results.items()}))


if __name__ == "__main__":
    main()
