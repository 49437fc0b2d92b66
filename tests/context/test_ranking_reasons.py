"""How a likely file's reasons and a similar change's label read to an agent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from headstart.context.ranking import FileEvidence, hit_label, reasons
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
    ],
)
def test_lexical_reason_reads_as_a_place(rank: int, wording: str) -> None:
    assert reasons(FileEvidence(lexical_rank=rank), similar_count=30) == [wording]
