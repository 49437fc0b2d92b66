"""Parsing commit messages: decoding, pull-request markers and links."""

from __future__ import annotations

import pytest

from headstart.indexers.messages import decode, find_links, find_pull_request, split_message
from headstart.records import Link, LinkKind

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("raw", "encoding", "expected"),
    [
        (b"plain ascii", None, "plain ascii"),
        ("café".encode(), None, "café"),
        ("café".encode("latin-1"), "ISO-8859-1", "café"),
        ("café".encode("latin-1"), " latin1 ", "café"),
        (b"caf\xe9", None, "caf\ufffd"),
        (b"caf\xe9", "no-such-codec", "caf\ufffd"),
        (b"caf\xe9", "base64", "caf\ufffd"),
        ("日本".encode("shift_jis"), "Shift_JIS", "日本"),
        (b"\x82", "Shift_JIS", "\ufffd"),
    ],
)
def test_decode(raw: bytes, encoding: str | None, expected: str) -> None:
    assert decode(raw, encoding) == expected


def test_split_message() -> None:
    assert split_message("\n Subject line \n\nBody one\nBody two\n\n") == ("Subject line", "Body one\nBody two")
    assert split_message("only a subject") == ("only a subject", "")


@pytest.mark.parametrize(
    ("message", "key", "number", "title", "body", "style"),
    [
        (
            "Merge pull request #42 from alice/fix-parser\n\nFix the parser\n\nIt crashed on empty input.\nFixes #7",
            "#42",
            42,
            "Fix the parser",
            "It crashed on empty input.\nFixes #7",
            "merge",
        ),
        ("Merge pull request #5 from bob/x", "#5", 5, "Merge pull request #5 from bob/x", "", "merge"),
        ("Add retries to the client (#123)\n\n* first\n* second", "#123", 123, "Add retries to the client", "* first\n* second", "squash"),
        ("Add retries (#12) (#13)", "#13", 13, "Add retries (#12)", "", "squash"),
        (
            "Merge branch 'feature' into 'main'\n\nAdd the exporter\n\nLong text.\n\nSee merge request group/sub/project!17",
            "group/sub/project!17",
            17,
            "Add the exporter",
            "Long text.",
            "gitlab",
        ),
        (
            "Add the exporter\n\nSee merge request group/project!3\n",
            "group/project!3",
            3,
            "Add the exporter",
            "",
            "gitlab",
        ),
    ],
)
def test_find_pull_request(message: str, key: str, number: int, title: str, body: str, style: str) -> None:
    marker = find_pull_request(message)
    assert marker is not None
    assert marker.key == key
    assert marker.number == number
    assert marker.title == title
    assert marker.body == body
    assert marker.style == style


@pytest.mark.parametrize(
    "message",
    [
        "Fix crash on empty input",
        'Revert "Add retries (#12)"\n\nThis reverts commit ' + SHA + ".",
        "Merge branch 'main' into feature",
        "Mention (#12) in the middle of the subject only",
        "Merge pull request from nowhere",
    ],
)
def test_find_pull_request_none(message: str) -> None:
    assert find_pull_request(message) is None


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Fix crash\n\nfixes #12", [Link(kind=LinkKind.FIXES, target="issue:#12")]),
        ("Closes #7, #8 and #9", [Link(kind=LinkKind.FIXES, target=f"issue:#{n}") for n in (7, 8, 9)]),
        ("resolves org/repo#3", [Link(kind=LinkKind.FIXES, target="issue:org/repo#3")]),
        ("Fixed: #4", [Link(kind=LinkKind.FIXES, target="issue:#4")]),
        ("RESOLVED #5", [Link(kind=LinkKind.FIXES, target="issue:#5")]),
        ("close #1\nclose #1", [Link(kind=LinkKind.FIXES, target="issue:#1")]),
        (f"Handle nulls\n\nFixes: {SHA[:12]} (\"Add nulls\")", [Link(kind=LinkKind.FIXES_COMMIT, target=f"commit:{SHA[:12]}")]),
        (f"Fixes: {SHA.upper()}", [Link(kind=LinkKind.FIXES_COMMIT, target=f"commit:{SHA}")]),
        (
            f'Revert "Add retries"\n\nThis reverts commit {SHA}.',
            [Link(kind=LinkKind.REVERTS, target=f"commit:{SHA}")],
        ),
        (
            f"Revert a merge\n\nThis reverts commit {SHA}, reversing\nchanges made to {SHA[::-1]}.",
            [Link(kind=LinkKind.REVERTS, target=f"commit:{SHA}")],
        ),
        ("Fix #12 and refactor (#13)", [Link(kind=LinkKind.FIXES, target="issue:#12")]),
    ],
)
def test_find_links(message: str, expected: list[Link]) -> None:
    assert find_links(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        "Refers to #12 without closing it",
        "prefix #3 and hotfix #4 are not keywords",
        "Fix the parser (#13)",
        "Fixes: not-a-sha",
        "Merge pull request #5 from bob/fixes",
    ],
)
def test_find_links_none(message: str) -> None:
    assert find_links(message) == []
