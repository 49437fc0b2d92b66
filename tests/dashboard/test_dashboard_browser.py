"""The dashboard in headless Chromium: sign-in, charts and their series, filters, team scopes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.ledger_data import (
    ADMIN_TOKEN,
    DAY_LABELS,
    PERIOD,
    SPEND,
    SPEND_CODEX,
    TEAM_TOKENS,
)

CHARTS = ["spend", "efficiency", "budget", "models", "compare"]


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context, so no test gets the cookie of another."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def sign_in(page: Any, base_url: str, token: str, path: str = f"/dashboard?{PERIOD}") -> None:
    page.goto(base_url + path)
    assert "/dashboard/login" in page.url
    page.fill("input[name=token]", token)
    page.click("form.login button")


def chart_series(page: Any, chart: str) -> dict[str, Any]:
    raw = page.get_attribute(f'svg.chart[data-chart="{chart}"]', "data-series")
    assert raw is not None, f"chart {chart!r} is missing"
    return json.loads(raw)


def named(data: dict[str, Any]) -> dict[str, list[float | None]]:
    return {item["name"]: item["values"] for item in data["series"]}


def test_overview_charts(page: Any, base_url: str) -> None:
    sign_in(page, base_url, ADMIN_TOKEN)

    assert page.url == f"{base_url}/dashboard?{PERIOD}"
    assert page.inner_text("h1") == "All teams"
    assert page.get_attribute("[data-scope]", "data-scope") == "admin"
    assert page.locator("svg.chart").count() == len(CHARTS)
    spend = chart_series(page, "spend")
    assert spend["categories"] == DAY_LABELS
    assert named(spend) == SPEND
    assert page.locator('svg.chart[data-chart="spend"] polyline').count() == 3
    assert page.locator('svg.chart[data-chart="spend"] circle').count() == 3 * len(DAY_LABELS)
    budget = named(chart_series(page, "budget"))
    assert budget["spent"] == [30.0, 5.0, 1.25]
    assert page.locator('svg.chart[data-chart="budget"] rect.bar').count() == 8


def test_filter_form_changes_chart(page: Any, base_url: str) -> None:
    sign_in(page, base_url, ADMIN_TOKEN)

    page.select_option("select[name=tool]", "codex")
    page.click("form.filters button")

    assert "tool=codex" in page.url
    assert named(chart_series(page, "spend")) == SPEND_CODEX
    models = chart_series(page, "models")
    assert models["categories"] == ["gpt-5"]


def test_filter_form_picks_team(page: Any, base_url: str) -> None:
    sign_in(page, base_url, ADMIN_TOKEN)

    page.select_option("select[name=team]", "payments")
    page.click("form.filters button")

    assert page.url.startswith(f"{base_url}/dashboard/teams/payments?")
    assert page.inner_text("h1") == "Team payments"
    assert named(chart_series(page, "spend"))["payments"] == SPEND["payments"]
    assert chart_series(page, "budget")["categories"] == ["payments"]


def test_chart_links_to_rows(page: Any, base_url: str) -> None:
    sign_in(page, base_url, ADMIN_TOKEN)

    page.click("#panel-budget a.rows-link")

    assert "/dashboard/rows/budget?" in page.url
    cells = page.locator("table.rows tbody tr").all_inner_texts()
    assert len(cells) == 3
    assert cells[0].split("\t")[:2] == ["mobile", "month"]
    page.click("a.json-link")
    assert json.loads(page.inner_text("body"))["chart"] == "budget"


def test_team_token_sees_own_team(page: Any, base_url: str) -> None:
    sign_in(page, base_url, TEAM_TOKENS["platform"])

    assert page.url == f"{base_url}/dashboard/teams/platform?{PERIOD}"
    assert page.get_attribute("[data-scope]", "data-scope") == "platform"
    assert page.locator("select[name=team] option").all_inner_texts() == ["platform"]
    spend = named(chart_series(page, "spend"))
    assert set(spend) == {"platform", "organisation, per team"}
    assert spend["platform"] == SPEND["platform"]
    assert chart_series(page, "efficiency")["categories"] == ["alice", "bob"]


def test_team_token_cannot_see_other_team(page: Any, base_url: str) -> None:
    sign_in(page, base_url, TEAM_TOKENS["platform"])

    response = page.goto(f"{base_url}/dashboard/teams/payments?{PERIOD}")
    assert response.status == 403
    assert page.locator("svg.chart").count() == 0
    assert "cannot read team" in page.inner_text("p.error")

    data = page.request.get(f"{base_url}/dashboard/data/spend.json?{PERIOD}&team=payments")
    assert data.status == 403

    # With no team named, the token's own team is the filter, so nothing else leaks.
    own = page.request.get(f"{base_url}/dashboard/data/efficiency.json?{PERIOD}")
    assert [row["key"] for row in own.json()["rows"]] == ["all", "alice", "bob"]


def test_no_token_no_data(page: Any, base_url: str) -> None:
    response = page.goto(f"{base_url}/dashboard/teams/platform?{PERIOD}")

    assert "/dashboard/login" in page.url
    assert response.status == 200
    assert page.locator("svg.chart").count() == 0
    for chart in CHARTS:
        data = page.request.get(f"{base_url}/dashboard/data/{chart}.json?{PERIOD}")
        assert data.status == 401


def test_bad_token_stays_out(page: Any, base_url: str) -> None:
    sign_in(page, base_url, "not-a-token")

    assert "/dashboard/login" in page.url
    assert "not valid" in page.inner_text("p.error")
    assert page.context.cookies() == []


def test_cookie_is_http_only(page: Any, base_url: str) -> None:
    sign_in(page, base_url, ADMIN_TOKEN)

    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""


def test_sign_out(page: Any, base_url: str) -> None:
    sign_in(page, base_url, ADMIN_TOKEN)

    page.click("form.logout button")

    assert "/dashboard/login" in page.url
    page.goto(f"{base_url}/dashboard?{PERIOD}")
    assert "/dashboard/login" in page.url
