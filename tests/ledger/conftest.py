"""Fixtures for ledger tests: ledgers on SQLite and PostgreSQL, and illustrative prices."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.pricing import PriceBook
from headstart.ledger.teams import TeamMap

POSTGRES_ENV = "HEADSTART_TEST_POSTGRES_URL"

# Illustrative per-MTok rates, so tests do not depend on real prices that change.
ILLUSTRATIVE_PRICES = """
version = "illustrative"

[models."test-sonnet"]
input_mtok = 3
output_mtok = 15
cache_read_mtok = 0.30
cache_write_mtok = 3.75
cache_write_1h_mtok = 6

[models."test-opus"]
input_mtok = 5
output_mtok = 25
cache_read_mtok = 0.50
cache_write_mtok = 6.25
cache_write_1h_mtok = 10

[models."test-long"]
input_mtok = 3
output_mtok = 15
[[models."test-long".tiers]]
above_input_tokens = 200000
input_mtok = 6
output_mtok = 22.5

[models."test-codex"]
input_mtok = 1.25
output_mtok = 10
cache_read_mtok = 0.125

[models."test-gemini"]
input_mtok = 1.25
output_mtok = 10
cache_read_mtok = 0.125
"""


@pytest.fixture
def prices_file(tmp_path: Path) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(ILLUSTRATIVE_PRICES)
    return path


@pytest.fixture
def prices(prices_file: Path) -> PriceBook:
    return PriceBook(prices_file)


@pytest.fixture
def teams() -> TeamMap:
    return TeamMap()


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    return url


@contextmanager
def postgres_schema(prefix: str = "hs_test") -> Iterator[str]:
    """Create a fresh schema on the test server, drop it afterwards; yield a URL that uses it."""
    url = postgres_url()
    admin = create_engine(url)
    schema = f"{prefix}_{secrets.token_hex(6)}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_ENV} is unreachable: {exc.orig}")
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    opened = open_ledger(ledger_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    try:
        yield opened
    finally:
        opened.close()
