"""The scenario ledger of scenario.py, built once per module on SQLite and on PostgreSQL.

The reports only read it, so the tests of a module share one build.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conftest import GitRepo
from tests.ledger.conftest import ILLUSTRATIVE_PRICES, postgres_schema
from tests.ledger.reports.scenario import build_ledger, build_repository

from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.teams import TeamMap

Scenario = tuple[Ledger, TeamMap, dict[str, str]]


@pytest.fixture(scope="module")
def scenario_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite3'}"
        return
    with postgres_schema() as url:
        yield url


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario_url" in metafunc.fixturenames:
        metafunc.parametrize(
            "scenario_url", ["sqlite", "postgresql"], indirect=True, scope="module"
        )


@pytest.fixture(scope="module")
def scenario(scenario_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("scenario")
    (root / "repo").mkdir()
    repo = GitRepo(root / "repo")
    repo.git("init", "-q", "-b", "main")
    prices = root / "prices.toml"
    prices.write_text(ILLUSTRATIVE_PRICES)

    shas = build_repository(repo)
    ledger = open_ledger(scenario_url)
    try:
        teams = build_ledger(ledger, repo, prices, root)
        yield ledger, teams, shas
    finally:
        ledger.close()
