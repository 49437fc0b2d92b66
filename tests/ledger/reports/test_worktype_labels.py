"""Labels of pull requests in the index store decide the type of work (see pr_labels.py).

The repository, in March 2024: ada's session commits "Update parser" twice on fix/parser on
the 4th, and the branch is squash-merged as "Update parser (#21)" on the 6th. Nothing in git names
the type of work, but the tracker labelled PR #21 `bug`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.conftest import GitRepo
from tests.ledger.reports.scenario import SETTINGS, commit_at, march, session_events
from typer.testing import CliRunner

from headstart.cli.report import _store_labels, report_app
from headstart.config import Settings
from headstart.indexers.trackers.writer import write_records
from headstart.ledger.db import Ledger, open_ledger
from headstart.ledger.ingest import record_events
from headstart.ledger.models import WorkOutcome
from headstart.ledger.pricing import PriceBook
from headstart.ledger.reports import WorkType, analyze_outcomes
from headstart.ledger.reports.pr_labels import PullRequestLabels
from headstart.ledger.reports.worktype import label_type, work_type
from headstart.ledger.teams import TeamMap
from headstart.records import Record, RecordKind, record_id
from headstart.store import Store

NOW = datetime(2024, 4, 15, 10, 0, tzinfo=UTC)
NAME = "github.com/acme/parser"


def _build(repo: GitRepo) -> str:
    repo.git("init", "-q", "-b", "main")
    repo.git("remote", "add", "origin", f"git@github.com:{NAME.partition('/')[2]}.git")
    commit_at(repo, march(1), "Initial commit", {"src/parser.py": "a\n", "README.md": "p\n"})
    repo.git("checkout", "-q", "-b", "fix/parser")
    commit_at(repo, march(4, 9, 20), "Update parser", {"src/parser.py": "b\n"})
    commit_at(repo, march(4, 9, 40), "Update parser", {"src/lexer.py": "c\n"})
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--squash", "fix/parser")
    return commit_at(repo, march(6), "Update parser (#21)")


def _pull_request(labels: list[str]) -> Record:
    return Record(
        id=record_id(NAME, RecordKind.PULL_REQUEST, "#21"),
        repo=NAME,
        kind=RecordKind.PULL_REQUEST,
        key="#21",
        number=21,
        title="Update parser",
        created_at=march(4, 10),
        labels=labels,
    )


def _record_session(ledger: Ledger, repo: GitRepo, prices: Path) -> None:
    events = session_events("parser", march(4, 9), Decimal(3), cwd=repo.path, branch="fix/parser")
    record_events(ledger, events, prices=PriceBook(prices), teams=TeamMap())


def _analyze(
    ledger: Ledger, repo: GitRepo, prices: Path, labels: PullRequestLabels | None
) -> WorkOutcome:
    _record_session(ledger, repo, prices)
    with ledger.session() as session:
        analyze_outcomes(session, settings=SETTINGS, now=NOW, labels=labels)
        row = session.scalars(select(WorkOutcome).where(WorkOutcome.unit == "session")).one()
        session.expunge_all()
    return row


@pytest.fixture
def repo(tmp_path: Path) -> tuple[GitRepo, str]:
    (tmp_path / "repo").mkdir()
    repo = GitRepo(tmp_path / "repo")
    return repo, _build(repo)


def test_work_type_from_pr_label(
    ledger: Ledger, prices_file: Path, store: Store, repo: tuple[GitRepo, str]
) -> None:
    git, squash = repo
    write_records(store, NAME, [_pull_request(["needs-review", "bug"])])

    row = _analyze(ledger, git, prices_file, PullRequestLabels(store))

    assert (row.work_type, row.classification) == ("bugfix", "productive")
    assert row.reasons == [
        f"merged and stayed: 2 of 2 commits merged (squashed into {squash[:8]}) in #21",
        "type of work bugfix: PR #21 is labelled 'bug'",
    ]


def test_work_type_without_store(
    ledger: Ledger, prices_file: Path, repo: tuple[GitRepo, str]
) -> None:
    git, squash = repo

    row = _analyze(ledger, git, prices_file, None)

    assert (row.work_type, row.classification) == ("feature", "productive")
    assert row.reasons == [
        f"merged and stayed: 2 of 2 commits merged (squashed into {squash[:8]}) in #21"
    ]


def test_work_type_unknown_labels(
    sqlite_ledger: Ledger, prices_file: Path, store: Store, repo: tuple[GitRepo, str]
) -> None:
    git, _squash = repo
    write_records(store, NAME, [_pull_request(["needs-review"])])

    row = _analyze(sqlite_ledger, git, prices_file, PullRequestLabels(store))

    assert row.work_type == "feature"
    assert not any(reason.startswith("type of work") for reason in row.reasons)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Defect", WorkType.BUGFIX),
        ("regression", WorkType.BUGFIX),
        ("feat", WorkType.FEATURE),
        ("Enhancement", WorkType.FEATURE),
        ("cleanup", WorkType.REFACTOR),
        ("testing", WorkType.TEST),
        ("documentation", WorkType.DOCS),
        ("deps", WorkType.CHORE),
        ("CI", WorkType.CHORE),
    ],
)
def test_label_names(label: str, expected: WorkType) -> None:
    assert label_type(["wontfix", label]) == (expected, label)


def test_work_type_label_beats_prefix() -> None:
    assert work_type(["feat: add a parser"], ["bug"]) == (WorkType.BUGFIX, "label 'bug'")


def test_store_labels_missing_store(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    settings = Settings(data_dir=tmp_path / "data", db=str(missing))

    assert _store_labels(settings) is None
    assert not missing.exists()

    missing.mkdir()
    assert isinstance(_store_labels(settings), PullRequestLabels)


def test_analyze_command_reads_store_labels(
    tmp_path: Path,
    prices_file: Path,
    store: Store,
    repo: tuple[GitRepo, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    git, _squash = repo
    write_records(store, NAME, [_pull_request(["bug"])])
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    ledger = open_ledger(url)
    try:
        _record_session(ledger, git, prices_file)
    finally:
        ledger.close()
    monkeypatch.setenv("HEADSTART_DB", store.uri)

    result = CliRunner().invoke(report_app, ["analyze", "--database", url])

    assert result.exit_code == 0, result.output
    ledger = open_ledger(url)
    try:
        with ledger.session() as session:
            row = session.scalars(select(WorkOutcome).where(WorkOutcome.unit == "session")).one()
            assert row.work_type == "bugfix"
            assert row.reasons[-1] == "type of work bugfix: PR #21 is labelled 'bug'"
    finally:
        ledger.close()
