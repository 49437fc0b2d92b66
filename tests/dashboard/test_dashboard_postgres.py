"""The dashboard on PostgreSQL, where a page builds its panels in parallel, one session each."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dashboard.ledger_data import (
    ADMIN_TOKEN,
    PERIOD,
    SPEND,
    TEAM_TOKENS,
    fill_ledger,
    write_teams_file,
)
from headstart.config import Settings
from headstart.ledger.db import open_ledger
from headstart.server.app import build_app
from ledger.conftest import postgres_schema_url  # noqa: F401 (a fixture)

pytestmark = pytest.mark.postgres


def chart_series(html: str, chart: str) -> dict:
    match = re.search(rf'data-chart="{chart}" data-series="([^"]*)"', html)
    assert match is not None, f"chart {chart!r} is missing"
    return json.loads(unescape(match.group(1)))


def test_pages_on_postgres(postgres_schema_url: str, tmp_path: Path) -> None:  # noqa: F811
    settings = Settings(
        data_dir=tmp_path,
        ledger_url=postgres_schema_url,
        api_token=ADMIN_TOKEN,
        teams_file=write_teams_file(tmp_path / "teams.toml"),
        report_bootstrap_resamples=200,
    )
    ledger = open_ledger(postgres_schema_url)
    try:
        fill_ledger(ledger)
    finally:
        ledger.close()
    client = TestClient(build_app(settings), base_url="http://127.0.0.1:8787")

    overview = client.get(f"/dashboard?{PERIOD}", headers={"x-headstart-token": ADMIN_TOKEN})
    team = client.get(
        f"/dashboard/teams/mobile?{PERIOD}",
        headers={"x-headstart-token": TEAM_TOKENS["mobile"]},
    )
    other = client.get(
        f"/dashboard/teams/platform?{PERIOD}",
        headers={"x-headstart-token": TEAM_TOKENS["mobile"]},
    )

    assert overview.status_code == 200, overview.text
    spend = chart_series(overview.text, "spend")
    assert {item["name"]: item["values"] for item in spend["series"]} == SPEND
    assert chart_series(overview.text, "budget")["series"][0]["values"] == [30.0, 5.0, 1.25]
    assert team.status_code == 200, team.text
    assert chart_series(team.text, "efficiency")["categories"] == ["dave"]
    assert other.status_code == 403
