"""Matching the code identifiers a task names against the files that contain them."""

from __future__ import annotations

import pytest

from headstart.context.identifiers import IdentifierIndex, task_identifiers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Allow Response subclasses to set default_mimetype as None", ["default_mimetype"]),
        ("deprecate `locked_cached_property`", ["locked_cached_property"]),
        ("Add `mode` parameter to Config.from_file", ["mode", "Config", "from_file"]),
        ("handle maxAge in res.cookie", ["res", "cookie", "maxAge"]),
        ("fix the cookie parser for empty values", []),
        ("bump to 2.3.1", []),
        (
            "--changed-within should accept 'yesterday'; see --max-depth and -x",
            ["changed_within", "max_depth"],
        ),
        ("add a --verbose flag, and a well-known x--y-z", []),
    ],
)
def test_task_identifiers_read_as_code(text: str, expected: list[str]) -> None:
    assert task_identifiers(text) == expected


def make_index() -> IdentifierIndex:
    files = {f"pkg/module{number}.py": ["common_helper"] for number in range(8)}
    files["pkg/wrappers.py"] = ["common_helper", "default_mimetype", "Response"]
    files["pkg/app.py"] = ["common_helper", "default_mimetype", "make_response"]
    files["pkg/testing.py"] = ["make_response"]
    return IdentifierIndex(files)


def test_rarest_identifier_weighs_most() -> None:
    ranked = make_index().rank("use default_mimetype in make_response", limit=10)

    assert ranked == [
        ("pkg/app.py", ["default_mimetype", "make_response"]),
        ("pkg/testing.py", ["make_response"]),
        ("pkg/wrappers.py", ["default_mimetype"]),
    ]


def test_identifier_in_many_files_is_ignored() -> None:
    assert make_index().rank("rename common_helper", limit=10) == []


def test_plain_words_match_nothing() -> None:
    assert make_index().rank("the response has the wrong default type", limit=10) == []
