"""`POST /v1/briefs` and `/healthz`, in process, with the ledger recording each delivery."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from headstart.config import Settings
from headstart.context.models import Brief
from headstart.context.render import render_json
from headstart.context.tokens import count_tokens
from headstart.ledger.db import open_ledger
from headstart.ledger.models import BriefDelivery
from headstart.ledger.tasks import start_task
from headstart.server.app import build_app
from server.conftest import IndexedRepo

pytestmark = pytest.mark.slow

TASK = "add retry with backoff to the HTTP client"
SESSION = "5d1c1d0e-6a0b-4c1f-9a55-2f7c6f6f1e01"


@pytest.fixture(scope="module")
def client(indexed: IndexedRepo) -> Iterator[TestClient]:
    app = build_app(indexed.settings, indexed.headstart(), repo=str(indexed.path))
    with TestClient(app, base_url="http://127.0.0.1:8787") as test_client:
        yield test_client


def delivery(indexed: IndexedRepo, brief_id: str) -> BriefDelivery | None:
    ledger = open_ledger(indexed.settings.ledger_database_url)
    try:
        with ledger.session() as session:
            return session.execute(
                select(BriefDelivery).where(BriefDelivery.id == brief_id)
            ).scalar_one_or_none()
    finally:
        ledger.close()


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_brief_json(client: TestClient, indexed: IndexedRepo) -> None:
    response = client.post(
        "/v1/briefs",
        json={
            "task": TASK,
            "files": ["src\\http\\client.py"],
            "max_tokens": 1500,
            "session_id": SESSION,
        },
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    brief = Brief.model_validate(response.json())
    assert brief.repo == str(indexed.path)
    assert brief.max_tokens == 1500
    assert brief.tokens == count_tokens(render_json(brief))
    assert brief.tokens <= 1500

    row = delivery(indexed, brief.id)
    assert row is not None
    assert row.files == ["src/http/client.py"]
    assert row.session_id == SESSION
    assert row.tokens == brief.tokens


def test_brief_markdown(client: TestClient) -> None:
    response = client.post(
        "/v1/briefs", json={"task": TASK, "format": "markdown", "max_tokens": 800}
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown")
    assert response.text.startswith("# Headstart brief")
    assert count_tokens(response.text) <= 800


def test_brief_links_task(client: TestClient, indexed: IndexedRepo) -> None:
    ledger = open_ledger(indexed.settings.ledger_database_url)
    try:
        task_id = start_task(ledger, "Cap the retries")
    finally:
        ledger.close()

    response = client.post("/v1/briefs", json={"task": TASK, "task_id": task_id})

    assert response.status_code == 200, response.text
    assert delivery(indexed, response.json()["id"]).task_id == task_id


def test_brief_unknown_task(client: TestClient, indexed: IndexedRepo) -> None:
    """A task id the ledger does not hold loses the link, not the delivery."""
    response = client.post("/v1/briefs", json={"task": TASK, "task_id": "hst_ffffffffffffffff"})

    assert response.status_code == 200, response.text
    row = delivery(indexed, response.json()["id"])
    assert row is not None
    assert row.task_id is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"task": TASK, "repo": "/no/such/repository"}, 400),
        ({"task": "   "}, 400),
        ({"task": ""}, 422),
        ({"task": TASK, "format": "yaml"}, 422),
        ({"task": TASK, "max_tokens": 50}, 422),
        ({"files": ["a.py"]}, 422),
    ],
)
def test_brief_bad_request(client: TestClient, body: dict, status: int) -> None:
    response = client.post("/v1/briefs", json=body)

    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_brief_nothing_indexed(indexed: IndexedRepo, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "empty")
    with TestClient(
        build_app(settings, indexed.headstart(settings)), base_url="http://127.0.0.1:8787"
    ) as client:
        response = client.post("/v1/briefs", json={"task": TASK})

    assert response.status_code == 404
    assert "headstart index" in response.json()["detail"]


def test_brief_without_ledger(
    indexed: IndexedRepo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A ledger that cannot be opened costs a warning, never the brief."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings = Settings(
        data_dir=indexed.data_dir, ledger_url=f"sqlite:///{blocker / 'ledger.sqlite3'}"
    )
    app = build_app(settings, indexed.headstart(settings), repo=str(indexed.path))

    with (
        caplog.at_level(logging.WARNING, logger="headstart.server.ledger"),
        TestClient(app, base_url="http://127.0.0.1:8787") as client,
    ):
        response = client.post("/v1/briefs", json={"task": TASK})

    assert response.status_code == 200, response.text
    brief_id = response.json()["id"]
    assert any(brief_id in record.getMessage() for record in caplog.records)
    assert delivery(indexed, brief_id) is None
