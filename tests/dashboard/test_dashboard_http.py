"""The dashboard over HTTP without a browser: chart series, rows, filters and token scopes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dashboard.conftest import DashboardApp
from dashboard.ledger_data import (
    ADMIN_TOKEN,
    DAY_LABELS,
    ORG_PER_TEAM,
    PERIOD,
    SPEND,
    SPEND_CODEX,
    TEAM_TOKENS,
)
from headstart.server.auth import COOKIE_NAME

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PLATFORM = {"Authorization": f"Bearer {TEAM_TOKENS['platform']}"}


@pytest.fixture(scope="module")
def client(dashboard_app: DashboardApp) -> Iterator[TestClient]:
    with TestClient(dashboard_app.app, base_url="http://127.0.0.1:8787") as test_client:
        yield test_client


def series(client: TestClient, chart: str, query: str, headers: dict[str, str]) -> dict:
    response = client.get(f"/dashboard/data/{chart}.json?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def named(data: dict) -> dict[str, list[float | None]]:
    return {item["name"]: item["values"] for item in data["series"]["series"]}


def test_spend_series_all_teams(client: TestClient) -> None:
    data = series(client, "spend", PERIOD, ADMIN)

    assert data["series"]["categories"] == DAY_LABELS
    assert named(data) == SPEND


def test_spend_series_tool_filter(client: TestClient) -> None:
    data = series(client, "spend", f"{PERIOD}&tool=codex", ADMIN)

    assert named(data) == SPEND_CODEX
    assert data["filters"]["tool"] == "codex"


def test_spend_series_one_team(client: TestClient) -> None:
    data = series(client, "spend", f"{PERIOD}&team=payments", ADMIN)
    values = named(data)

    assert values["payments"] == SPEND["payments"]
    assert values["organisation, per team"] == pytest.approx(ORG_PER_TEAM, abs=1e-6)
    assert set(values) == {"payments", "organisation, per team"}


def test_spend_granularity_week(client: TestClient) -> None:
    data = series(client, "spend", f"{PERIOD}&granularity=week", ADMIN)

    # 2026-03-01 is a Sunday, so its week starts on Monday 2026-02-23.
    assert data["series"]["categories"] == ["2026-02-23", "2026-03-02", "2026-03-09"]
    assert named(data)["platform"] == [3.0, 21.0, 6.0]


def test_efficiency_shares(client: TestClient) -> None:
    data = series(client, "efficiency", PERIOD, ADMIN)
    values = named(data)

    assert data["series"]["categories"] == ["platform", "payments", "mobile"]
    assert values["productive"] == pytest.approx([25 / 30, 0.0, 0.0], abs=1e-6)
    assert values["wasteful"] == pytest.approx([5 / 30, 0.0, 0.0], abs=1e-6)
    assert values["inefficient"] == [0.0, 1.0, 0.0]
    assert values["unanalyzed"] == [0.0, 0.0, 1.0]


def test_budget_burn(client: TestClient) -> None:
    data = series(client, "budget", PERIOD, ADMIN)
    values = named(data)

    # As of 2026-03-11, ten of March's 31 days have passed: forecast = spent / 10 * 31.
    assert data["series"]["categories"] == ["platform", "payments", "mobile"]
    assert values["spent"] == [30.0, 5.0, 1.25]
    assert values["forecast"] == [93.0, 15.5, 3.875]
    assert values["budget"] == [100.0, 50.0, None]


def test_budget_month_end(client: TestClient) -> None:
    data = series(client, "budget", "start=2026-03-01&end=2026-03-31", ADMIN)
    values = named(data)

    # Judged at the end of March 31, the whole month has passed: the forecast is the spend.
    assert values["spent"] == [30.0, 5.0, 1.25]
    assert values["forecast"] == [30.0, 5.0, 1.25]
    assert {row["period_start"] for row in data["rows"]} == {"2026-03-01"}


def test_model_comparison(client: TestClient) -> None:
    data = series(client, "models", PERIOD, ADMIN)
    values = named(data)

    # claude-sonnet-4: 20 tasks for $25, all successful; gpt-5: 10 tasks for $10, 5 successful.
    assert data["series"]["categories"] == ["claude-sonnet-4", "gpt-5"]
    assert values["per task"] == [1.25, 1.0]
    assert values["per productive task"] == [1.25, 2.0]
    verdicts = {row["key"]: row["verdict"] for row in data["rows"] if row["kind"] == "tool"}
    # codex succeeds in 50% of its tasks, between cut and keep, and all are features with that
    # same 50%: no type of work where it is good value, so it is cut rather than scoped.
    assert verdicts == {"claude-code": "keep", "codex": "cut"}


def test_before_after_by_brief(client: TestClient) -> None:
    data = series(client, "compare", PERIOD, ADMIN)
    rows = {row["label"]: row for row in data["series"]["rows"]}

    # With a brief: alice's 10 sessions of 1000 tokens; without: 20 sessions of 2000 tokens.
    assert rows["tokens per task"]["value"] == pytest.approx(-0.5)
    assert rows["tokens per task"]["low"] == pytest.approx(-0.5)
    warnings = [row["warning"] for row in data["rows"] if row["warning"]]
    assert warnings, "cohorts of 10 and 20 tasks must be flagged as too small"


def test_before_after_by_date(client: TestClient) -> None:
    data = series(client, "compare", f"{PERIOD}&split=2026-03-06", ADMIN)
    costs = next(row for row in data["rows"] if row["metric"] == "cost per task")

    # Days 1-5 and 6-10 hold the same sessions, so cost per task does not change.
    assert costs["n_before"] == 15
    assert costs["n_after"] == 15
    assert costs["difference"] == pytest.approx(0.0)


def test_rows_csv(client: TestClient) -> None:
    response = client.get(f"/dashboard/data/spend.csv?{PERIOD}", headers=ADMIN)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 30
    assert {row["team"] for row in rows} == {"platform", "payments", "mobile"}
    assert sum(float(row["cost_usd"]) for row in rows) == pytest.approx(36.25)


def test_rows_page(client: TestClient) -> None:
    response = client.get(f"/dashboard/rows/budget?{PERIOD}", headers=ADMIN)

    assert response.status_code == 200
    assert '<table class="rows" data-panel="budget">' in response.text
    assert response.text.count("<tr>") == 4


def test_team_token_own_team(client: TestClient) -> None:
    data = series(client, "spend", PERIOD, PLATFORM)

    assert data["filters"]["team"] == "platform"
    assert set(named(data)) == {"platform", "organisation, per team"}


@pytest.mark.parametrize(
    "path",
    [
        f"/dashboard/data/spend.json?{PERIOD}&team=payments",
        f"/dashboard/data/efficiency.csv?{PERIOD}&team=payments",
        f"/dashboard/teams/payments?{PERIOD}",
        f"/dashboard/rows/spend?{PERIOD}&team=payments",
    ],
)
def test_team_token_other_team(client: TestClient, path: str) -> None:
    response = client.get(path, headers=PLATFORM)

    assert response.status_code == 403
    assert "data-series" not in response.text
    assert '"rows"' not in response.text
    assert "0.5" not in response.text


def test_team_token_overview_redirect(client: TestClient) -> None:
    response = client.get(f"/dashboard?{PERIOD}", headers=PLATFORM, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == f"/dashboard/teams/platform?{PERIOD}"


def test_team_page_filter_options(client: TestClient) -> None:
    response = client.get(f"/dashboard/teams/platform?{PERIOD}", headers=PLATFORM)

    assert response.status_code == 200
    assert '<option value="payments"' not in response.text
    assert '<option value="platform" selected' in response.text


@pytest.mark.parametrize("chart", ["spend", "efficiency", "budget", "models", "compare"])
def test_no_token_no_data(client: TestClient, chart: str) -> None:
    response = client.get(f"/dashboard/data/{chart}.json?{PERIOD}")

    assert response.status_code == 401
    assert "rows" not in response.json()


def test_wrong_token_no_data(client: TestClient) -> None:
    response = client.get(
        f"/dashboard/data/spend.json?{PERIOD}", headers={"Authorization": "Bearer nope"}
    )

    assert response.status_code == 401


def test_browser_without_token_redirected(client: TestClient) -> None:
    response = client.get(
        f"/dashboard?{PERIOD}", headers={"Accept": "text/html"}, follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"].startswith("/dashboard/login?next=%2Fdashboard%3Fstart")


def test_login_sets_cookie(dashboard_app: DashboardApp) -> None:
    # Without `with`, so the app's lifespan, already run by `client`, is not started again.
    fresh = TestClient(dashboard_app.app, base_url="http://127.0.0.1:8787")
    response = fresh.post(
        "/dashboard/login",
        content=f"token={TEAM_TOKENS['mobile']}&next=%2Fdashboard%3F{PERIOD.replace('&', '%26')}",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]

    assert response.status_code == 303
    assert response.headers["location"] == f"/dashboard?{PERIOD}"
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    data = series(fresh, "spend", PERIOD, {})
    assert set(named(data)) == {"mobile", "organisation, per team"}


def test_login_rejects_bad_token(client: TestClient) -> None:
    response = client.post(
        "/dashboard/login",
        content="token=wrong&next=%2Fdashboard",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )

    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert "not valid" in response.text


@pytest.mark.parametrize("path", ["/dashboard/login", "/dashboard/logout"])
def test_cross_site_form_rejected(client: TestClient, path: str) -> None:
    response = client.post(
        path,
        content=f"token={ADMIN_TOKEN}",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "origin": "https://attacker.example",
        },
        follow_redirects=False,
    )

    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_same_site_form_accepted(dashboard_app: DashboardApp) -> None:
    fresh = TestClient(dashboard_app.app, base_url="http://127.0.0.1:8787")
    response = fresh.post(
        "/dashboard/login",
        content=f"token={ADMIN_TOKEN}",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "origin": "http://127.0.0.1:8787",
        },
        follow_redirects=False,
    )

    assert response.status_code == 303


def test_login_query_token_exchanged(dashboard_app: DashboardApp) -> None:
    # Without `with`, so the app's lifespan, already run by `client`, is not started again.
    fresh = TestClient(dashboard_app.app, base_url="http://127.0.0.1:8787")
    response = fresh.get(
        f"/dashboard/login?token={ADMIN_TOKEN}&next=/dashboard/rows/spend",
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/rows/spend"
    assert ADMIN_TOKEN not in response.headers["location"]
    assert fresh.cookies.get(COOKIE_NAME) == ADMIN_TOKEN


def test_login_next_stays_inside(dashboard_app: DashboardApp) -> None:
    fresh = TestClient(dashboard_app.app, base_url="http://127.0.0.1:8787")
    response = fresh.get(
        f"/dashboard/login?token={ADMIN_TOKEN}&next=https://attacker.example/",
        follow_redirects=False,
    )

    assert response.headers["location"] == "/dashboard"


def test_cookie_not_accepted_for_writes(dashboard_app: DashboardApp) -> None:
    """A browser's cookie opens only reads of the dashboard, never a POST to the API."""
    fresh = TestClient(dashboard_app.app, base_url="http://127.0.0.1:8787")
    fresh.cookies.set(COOKIE_NAME, ADMIN_TOKEN)

    response = fresh.post("/v1/briefs", json={"task": "retry"})

    assert response.status_code == 401


def test_logout_clears_cookie(client: TestClient) -> None:
    response = client.post("/dashboard/logout", follow_redirects=False)

    assert response.status_code == 303
    assert f'{COOKIE_NAME}=""' in response.headers["set-cookie"]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("start=2026-13-01", "invalid start '2026-13-01'"),
        ("start=2026-03-10&end=2026-03-01", "start 2026-03-10 is after end"),
        ("granularity=hour", "invalid granularity 'hour'"),
        (f"{PERIOD}&split=2026-04-01", "invalid split 2026-04-01"),
        ("start=2020-01-01&end=2026-01-01", "more than the dashboard's"),
    ],
)
def test_invalid_filters(client: TestClient, query: str, detail: str) -> None:
    response = client.get(f"/dashboard/data/spend.json?{query}", headers=ADMIN)

    assert response.status_code == 400
    assert detail in response.json()["detail"]


def test_unknown_chart(client: TestClient) -> None:
    response = client.get(f"/dashboard/data/pie.json?{PERIOD}", headers=ADMIN)

    assert response.status_code == 404
    assert "spend" in response.json()["detail"]
