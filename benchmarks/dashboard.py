"""Benchmark the dashboard's pages on a ledger of 1,000,000+ usage records, SQLite and PostgreSQL.

The ledger is the one `benchmarks/reports.py` generates (50 teams of 10 engineers, 4 tools,
6 models, 6 months of sessions of 20 requests, each with a work outcome row), filled the same
way. Each page is requested `--repeat` times through the real app (token check, filters, the
five reports, templates and SVG) with FastAPI's in-process test client. The table shows the
first request and the median of the rest, next to the plain `SELECT count(*), sum(computed_cost)`
over the usage table as a reference. The first request of all also builds the daily rollup
that the reports read.

Usage: python benchmarks/dashboard.py [--records 1000000] [--repeat 5] [--postgres URL]
       [--no-sqlite] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from headstart.config import Settings
from headstart.ledger.db import open_ledger
from headstart.server.app import build_app


def _load_reports_benchmark() -> Any:
    path = Path(__file__).with_name("reports.py")
    spec = importlib.util.spec_from_file_location("benchmark_reports", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fill = _load_reports_benchmark()

TOKEN = "benchmark-admin-token"
PERIOD = "start=2026-06-01&end=2026-11-30"
PAGES = {
    "overview, 6 months": f"/dashboard?{PERIOD}",
    "overview, 6 months, one tool": f"/dashboard?{PERIOD}&tool=codex",
    "overview, last 30 days": "/dashboard?start=2026-11-01&end=2026-11-30",
    "team page, 6 months": f"/dashboard/teams/team-07?{PERIOD}",
    "spend chart rows (JSON)": f"/dashboard/data/spend.json?{PERIOD}",
    "efficiency chart rows (JSON)": f"/dashboard/data/efficiency.json?{PERIOD}",
    "budget chart rows (JSON)": f"/dashboard/data/budget.json?{PERIOD}",
    "models chart rows (JSON)": f"/dashboard/data/models.json?{PERIOD}",
    "before/after chart rows (JSON)": f"/dashboard/data/compare.json?{PERIOD}",
}


def write_teams_file(path: Path) -> Path:
    path.write_text(
        "".join(f"[teams.team-{team:02d}]\nbudget_usd = 5000\n\n" for team in range(1, 51))
    )
    return path


def measure(ledger_url: str, workdir: Path, repeat: int) -> dict[str, tuple[float, float]]:
    """Return (first, median of the rest) seconds per page."""
    settings = Settings(
        data_dir=workdir,
        ledger_url=ledger_url,
        api_token=TOKEN,
        teams_file=write_teams_file(workdir / "teams.toml"),
    )
    client = TestClient(build_app(settings), base_url="http://127.0.0.1:8787")
    client.headers["Authorization"] = f"Bearer {TOKEN}"

    results = {"reference: count(*), sum(cost)": _reference(ledger_url, repeat)}
    for name, path in PAGES.items():
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} returned {response.status_code}: {response.text}")
        results[name] = (times[0], statistics.median(times[1:] or times))
    return results


def _reference(ledger_url: str, repeat: int) -> tuple[float, float]:
    """Time the plainest query over the whole usage table, as `benchmarks/reports.py` does."""
    engine = create_engine(ledger_url)
    times = []
    try:
        for _ in range(repeat):
            began = time.perf_counter()
            with engine.connect() as connection:
                connection.execute(
                    text("SELECT count(*), sum(computed_cost) FROM usage_records")
                ).one()
            times.append(time.perf_counter() - began)
    finally:
        engine.dispose()
    return times[0], statistics.median(times[1:] or times)


def run_sqlite(data: dict[str, Any], workdir: Path, repeat: int) -> dict[str, Any]:
    url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    ledger = open_ledger(url)
    try:
        began = time.perf_counter()
        fill.fill_sqlite(ledger, data)
        print(f"sqlite: filled in {time.perf_counter() - began:.1f} s", flush=True)
    finally:
        ledger.close()
    return measure(url, workdir, repeat)


def run_postgres(url: str, data: dict[str, Any], workdir: Path, repeat: int) -> dict[str, Any]:
    admin = create_engine(url)
    schema = f"hs_bench_{secrets.token_hex(4)}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    scoped_url = scoped.render_as_string(hide_password=False)
    try:
        ledger = open_ledger(scoped_url)
        try:
            began = time.perf_counter()
            fill.fill_postgres(ledger, data)
            print(f"postgresql: filled in {time.perf_counter() - began:.1f} s", flush=True)
        finally:
            ledger.close()
        return measure(scoped_url, workdir, repeat)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL; skipped when absent.")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    arguments = parser.parse_args()

    began = time.perf_counter()
    data = fill.generate(arguments.records)
    print(
        f"generated {len(data['usage_records']):,} usage records in "
        f"{time.perf_counter() - began:.1f} s",
        flush=True,
    )
    machine = (
        f"{platform.processor() or platform.machine()}, {platform.system()} {platform.release()}"
    )
    print(f"machine: {machine}, python {platform.python_version()}", flush=True)
    with tempfile.TemporaryDirectory(dir=arguments.workdir) as workdir:
        if not arguments.no_sqlite:
            sqlite_dir = Path(workdir) / "sqlite"
            sqlite_dir.mkdir()
            report("sqlite", run_sqlite(data, sqlite_dir, arguments.repeat), arguments.repeat)
        if arguments.postgres:
            postgres_dir = Path(workdir) / "postgresql"
            postgres_dir.mkdir()
            figures = run_postgres(arguments.postgres, data, postgres_dir, arguments.repeat)
            report("postgresql", figures, arguments.repeat)


def report(database: str, figures: dict[str, tuple[float, float]], repeat: int) -> None:
    """Print one database's figures as a Markdown table, then as JSON, with the load average."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\n{database}, {repeat} requests per page, load average {load}:")
    print(f"| page | {database} first (ms) | {database} median of the rest (ms) |")
    print("|---|---:|---:|")
    for name, (first, median) in figures.items():
        print(f"| {name} | {first * 1000:.0f} | {median * 1000:.0f} |")
    rounded = {name: [round(value, 4) for value in pair] for name, pair in figures.items()}
    print(json.dumps({database: rounded}), flush=True)


if __name__ == "__main__":
    main()
