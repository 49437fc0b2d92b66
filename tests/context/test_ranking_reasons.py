"""Files named in a task, and how a likely file's reasons and a similar change's label read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from headstart.context.ranking import FileEvidence, hit_label, named_files, reasons
from headstart.records import Record, RecordKind
from headstart.store import SearchHit


def commit_hit(title: str, body: str = "") -> SearchHit:
    record = Record(
        id="r", repo="repo", kind=RecordKind.COMMIT, key="80f8d3be48aa", title=title, body=body,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    return SearchHit(record=record, score=1.0, similarity=0.9)


@pytest.mark.parametrize(
    ("title", "label"),
    [
        ("Merge pull request #1558 from jkowens/fix-1172", "PR #1558"),
        ("Add the template cache (#42)", "PR #42"),
        ("Tune the template cache", "commit 80f8d3be48"),
    ],
)
def test_hit_label_prefers_the_pull_request(title: str, label: str) -> None:
    assert hit_label(commit_hit(title)) == label


@pytest.mark.parametrize(
    ("rank", "wording"),
    [
        (1, "its path and past commit messages match the task (best of all files)"),
        (2, "its path and past commit messages match the task (2nd best of all files)"),
        (3, "its path and past commit messages match the task (3rd best of all files)"),
        (10, "its path and past commit messages match the task (10th best of all files)"),
        (13, "its path and past commit messages match the task (13th best of all files)"),
        (22, "its path and past commit messages match the task (22nd best of all files)"),
    ],
)
def test_lexical_reason_reads_as_a_place(rank: int, wording: str) -> None:
    assert reasons(FileEvidence(lexical_rank=rank), similar_count=30) == [wording]


@pytest.mark.parametrize(
    ("task", "found"),
    [
        ("Remove res.send(status) signature", {"test/res.send.js"}),
        ("Move the encoder into flask.json.provider", {"src/flask/json/provider.py"}),
        ("Fix src/flask/app.py on empty config", {"src/flask/app.py"}),
        ("Tune the json provider", set()),
        ("Drop support for v2.0", set()),
    ],
)
def test_named_files_by_path_or_dotted_name(task: str, found: set[str]) -> None:
    files = {"test/res.send.js", "lib/response.js", "src/flask/json/provider.py", "src/flask/app.py"}

    assert named_files(task, files) == found
