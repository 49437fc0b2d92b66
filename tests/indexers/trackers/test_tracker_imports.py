"""Imports of the files `gh pr list --json`, `gh issue list --json`, `gh api --paginate` and Jira write."""

from __future__ import annotations

import json

import pytest

from conftest import REPO
from headstart.indexers.trackers.http import TrackerError
from headstart.indexers.trackers.imports import import_file
from headstart.records import LinkKind, RecordKind, record_id

# `gh` writes JSON with sorted keys and two-space indents.


def gh_pulls(widgets) -> list[dict]:
    return [
        {
            "author": {
                "id": "MDQ6VXNlcjE=",
                "is_bot": False,
                "login": "grace",
                "name": "Grace Hopper",
            },
            "body": "Fixes #3\r\n\r\nThe parser crashed on empty input.",
            "commits": [
                {
                    "authoredDate": "2024-02-01T09:00:00Z",
                    "authors": [],
                    "committedDate": "2024-02-01T09:00:00Z",
                    "messageBody": "",
                    "messageHeadline": "Handle empty input",
                    "oid": "1" * 40,
                }
            ],
            "createdAt": "2024-02-01T09:00:00Z",
            "files": [
                {"additions": 1, "deletions": 1, "path": "src/parser.py"},
                {"additions": 2, "deletions": 0, "path": "tests/test_parser.py"},
            ],
            "labels": [{"color": "d73a4a", "description": "", "id": "LA_kwDOA", "name": "bugfix"}],
            "mergeCommit": {"oid": widgets.squash},
            "mergedAt": "2024-02-02T10:00:00Z",
            "number": 5,
            "reviews": [
                {
                    "author": {"login": "linus"},
                    "authorAssociation": "MEMBER",
                    "body": "Don't swallow the error; raise ParseError instead.",
                    "commit": {"oid": "1" * 40},
                    "id": "PRR_kwDOA1",
                    "includesCreatedEdit": False,
                    "reactionGroups": [],
                    "state": "CHANGES_REQUESTED",
                    "submittedAt": "2024-02-01T11:00:00Z",
                },
                {
                    "author": {"login": "linus"},
                    "authorAssociation": "MEMBER",
                    "body": "",
                    "commit": {"oid": "1" * 40},
                    "id": "PRR_kwDOA2",
                    "includesCreatedEdit": False,
                    "reactionGroups": [],
                    "state": "APPROVED",
                    "submittedAt": "2024-02-01T12:00:00Z",
                },
            ],
            "state": "MERGED",
            "title": "Handle empty input",
            "url": "https://github.com/acme/widgets/pull/5",
        },
        {
            "author": {"login": "grace"},
            "body": "",
            "commits": [{"oid": "2" * 40}, {"oid": "3" * 40}],
            "createdAt": "2024-02-03T09:00:00Z",
            "files": [{"additions": 2, "deletions": 0, "path": "src/tokens.py"}],
            "labels": [],
            "mergeCommit": {"oid": widgets.rebase_last},
            "mergedAt": "2024-02-03T10:00:00Z",
            "number": 7,
            "reviews": [],
            "state": "MERGED",
            "title": "Use a tokenizer",
            "url": "https://github.com/acme/widgets/pull/7",
        },
        {
            "author": {"login": "ada"},
            "body": "",
            "createdAt": "2024-02-05T09:00:00Z",
            "files": [],
            "labels": [],
            "mergeCommit": None,
            "mergedAt": None,
            "state": "OPEN",
            "title": "No number",
            "url": "https://github.com/acme/widgets/pull/11",
        },
    ]


def gh_issues() -> list[dict]:
    return [
        {
            "author": {"id": "U1", "is_bot": False, "login": "ada", "name": "Ada"},
            "body": "parse('') raises IndexError",
            "closedAt": "2024-02-02T10:00:00Z",
            "closedByPullRequestsReferences": [
                {
                    "id": "PR_kwDOA",
                    "number": 5,
                    "repository": {
                        "id": "R_1",
                        "name": "widgets",
                        "owner": {"id": "O_1", "login": "acme"},
                    },
                    "url": "https://github.com/acme/widgets/pull/5",
                }
            ],
            "createdAt": "2024-01-20T00:00:00Z",
            "labels": [
                {
                    "color": "d73a4a",
                    "description": "Something isn't working",
                    "id": "LA_1",
                    "name": "bug",
                }
            ],
            "number": 3,
            "state": "CLOSED",
            "stateReason": "COMPLETED",
            "title": "Crash on empty input",
            "url": "https://github.com/acme/widgets/issues/3",
        },
        {
            "author": {"login": "ada"},
            "body": "Unicode is dropped by `src/parser.py`.",
            "closedAt": None,
            "closedByPullRequestsReferences": [],
            "createdAt": "2024-03-01T00:00:00Z",
            "labels": [{"name": "bug"}],
            "number": 8,
            "state": "OPEN",
            "stateReason": "",
            "title": "Parser drops unicode",
            "url": "https://github.com/acme/widgets/issues/8",
        },
        {
            "author": {"login": "ada"},
            "body": "",
            "createdAt": "2024-03-02T00:00:00Z",
            "labels": [{"name": "question"}],
            "number": 10,
            "state": "OPEN",
            "title": "How?",
            "url": "https://github.com/acme/widgets/issues/10",
        },
    ]


def test_gh_pr_list_import(widgets, store, tmp_path):
    path = tmp_path / "prs.json"
    path.write_text(json.dumps(gh_pulls(widgets), indent=2, sort_keys=True))

    report = import_file(store, path)

    assert report.written == {"pull_request": 2, "review_comment": 1}
    assert report.errors == ["record 3: missing field 'number'; record skipped"]
    assert report.repos == {REPO}
    squashed = store.get(REPO, "pull_request", "#5")
    assert squashed.id == record_id(REPO, RecordKind.PULL_REQUEST, "#5")
    assert {"merged", "bugfix", "squash"} <= set(squashed.labels)
    assert [link.target for link in squashed.links if link.kind == LinkKind.MERGED_AS] == [
        f"commit:{widgets.squash}"
    ]
    rebased = store.get(REPO, "pull_request", "#7")
    assert [link.target for link in rebased.links if link.kind == LinkKind.MERGED_AS] == [
        f"commit:{widgets.rebase_last}",
        f"commit:{widgets.rebase_first}",
    ]
    review = store.get(REPO, "review_comment", "#5/review-PRR_kwDOA1")
    assert review.authors == ["linus"]
    assert review.files == ["src/parser.py", "tests/test_parser.py"]
    assert review.labels == ["changes_requested", "review"]


def test_gh_issue_list_import(widgets, store, tmp_path):
    path = tmp_path / "issues.json"
    path.write_text(json.dumps(gh_issues(), indent=2, sort_keys=True))

    report = import_file(store, path)

    assert report.written == {"bug": 2}
    assert report.errors == []
    closed = store.get(REPO, "bug", "#3")
    assert closed.labels == ["closed", "bug"]
    fixed_by = [link.target for link in closed.links if link.kind == LinkKind.FIXED_BY]
    assert fixed_by == ["pull_request:#5", f"commit:{widgets.squash}"]
    assert closed.files == ["src/parser.py", "tests/test_parser.py"]
    opened = store.get(REPO, "bug", "#8")
    assert opened.labels == ["open", "bug"]
    assert opened.files == ["src/parser.py"]


def test_rest_dump_import(widgets, store, tmp_path):
    pulls = [
        {
            "number": 9,
            "title": "Stream output",
            "body": "",
            "state": "closed",
            "merged_at": "2024-02-04T00:00:00Z",
            "merge_commit_sha": widgets.merge,
            "labels": [],
            "user": {"login": "grace"},
            "created_at": "2024-02-03T00:00:00Z",
            "html_url": "https://github.com/acme/widgets/pull/9",
            "head": {"ref": "stream"},
        }
    ]
    reviews = [
        {
            "id": 100,
            "state": "CHANGES_REQUESTED",
            "body": "",
            "user": {"login": "linus"},
            "submitted_at": "2024-02-03T01:00:00Z",
            "pull_request_url": "https://api.github.com/repos/acme/widgets/pulls/9",
        }
    ]
    comments = [
        {
            "id": 555,
            "pull_request_review_id": 100,
            "path": "src/output.py",
            "line": 1,
            "original_line": 1,
            "body": "Flush before closing, or output is lost.",
            "user": {"login": "linus"},
            "created_at": "2024-02-03T01:00:00Z",
            "html_url": "https://github.com/acme/widgets/pull/9#discussion_r555",
            "pull_request_url": "https://api.github.com/repos/acme/widgets/pulls/9",
        }
    ]
    issues = [
        {
            "number": 12,
            "title": "Output truncated",
            "body": "src/output.py loses the tail",
            "state": "open",
            "labels": [{"name": "bug"}],
            "user": {"login": "ada"},
            "created_at": "2024-03-01T00:00:00Z",
            "updated_at": "2024-03-01T00:00:00Z",
            "html_url": "https://github.com/acme/widgets/issues/12",
        }
    ]
    # `gh api --paginate` writes one array per page, back to back.
    path = tmp_path / "dump.json"
    path.write_text(
        json.dumps(pulls)
        + json.dumps(reviews)
        + "\n"
        + json.dumps(comments)
        + "\n{not json\n"
        + json.dumps(issues)
    )

    report = import_file(store, path)

    assert report.written == {"pull_request": 1, "review_comment": 1, "bug": 1}
    assert report.errors == [
        "line 3: invalid JSON (Expecting property name enclosed in double quotes); skipped to the next line"
    ]
    comment = store.get(REPO, "review_comment", "#9/555")
    assert comment.labels == ["changes_requested", "line:1"]
    assert comment.files == ["src/output.py"]
    merged = store.get(REPO, "pull_request", "#9")
    assert f"commit:{widgets.merge}" in [
        link.target for link in merged.links if link.kind == LinkKind.MERGED_AS
    ]
    assert store.get(REPO, "bug", "#12").files == ["src/output.py"]


JIRA_CSV = (
    "Summary,Issue key,Issue id,Issue Type,Status,Priority,Resolution,Reporter,Created,Resolved,Labels,Labels,Description\n"
    "Parser crash on empty input,WID-3,10003,Bug,Done,High,Fixed,Ada Lovelace,20/Jan/24 9:15 AM,02/Feb/24 10:00 AM,parser,crash,\"parse('') raises\nIndexError\"\n"
    "Missing date,WID-4,10004,Bug,To Do,Low,,Ada Lovelace,,,,,\n"
    "Add dark mode,WID-5,10005,Story,To Do,Low,,Ada Lovelace,21/Jan/24 9:15 AM,,,,\n"
)


def test_jira_csv_import(widgets, store, tmp_path):
    path = tmp_path / "jira.csv"
    path.write_text(JIRA_CSV)

    report = import_file(store, path, repo=REPO)

    assert report.written == {"bug": 1}
    assert report.errors == ["line 4: missing field 'created'; record skipped"]
    bug = store.get(REPO, "bug", "WID-3")
    assert bug.labels == ["closed", "parser", "crash"]
    assert bug.body == "parse('') raises\nIndexError"
    assert bug.created_at.isoformat() == "2024-01-20T09:15:00+00:00"


def test_jira_json_import(git_repo, store, tmp_path):
    git_repo.git("remote", "add", "origin", "https://github.com/acme/widgets.git")
    git_repo.commit("Add parser", {"src/parser.py": "x = 1\n"})
    fix = git_repo.commit(
        "WID-3: guard empty input",
        {"src/parser.py": "x = 2\n", "tests/test_parser.py": "def test_x():\n    pass\n"},
    )
    git_repo.commit("WID-30: unrelated", {"README.md": "hi\n"})
    from headstart.indexers.pipeline import index_repository

    index_repository(store, git_repo.path, workers=1)
    search = {
        "startAt": 0,
        "maxResults": 50,
        "total": 2,
        "issues": [
            {
                "id": "10003",
                "key": "WID-3",
                "self": "https://acme.atlassian.net/rest/api/3/issue/10003",
                "fields": {
                    "summary": "Parser crash",
                    "issuetype": {"name": "Bug"},
                    "status": {"name": "Done", "statusCategory": {"key": "done"}},
                    "resolution": {"name": "Fixed"},
                    "labels": [],
                    "created": "2024-01-20T09:15:30.000+0000",
                    "reporter": {"displayName": "Ada Lovelace"},
                    "description": {
                        "type": "doc",
                        "version": 1,
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [{"type": "text", "text": "parse('') raises"}],
                            }
                        ],
                    },
                },
            },
            {
                "id": "10004",
                "key": "WID-4",
                "fields": {"summary": "No created", "issuetype": {"name": "Bug"}},
            },
        ],
    }
    path = tmp_path / "jira.json"
    path.write_text(json.dumps(search))

    report = import_file(store, path, repo=REPO)

    assert report.written == {"bug": 1}
    assert report.errors == ["record 2: missing field 'created'; record skipped"]
    bug = store.get(REPO, "bug", "WID-3")
    assert bug.url == "https://acme.atlassian.net/browse/WID-3"
    assert bug.body == "parse('') raises"
    assert [link.target for link in bug.links if link.kind == LinkKind.FIXED_BY] == [
        f"commit:{fix}"
    ]
    assert bug.files == ["src/parser.py", "tests/test_parser.py"]


def test_jira_needs_repo(store, tmp_path):
    path = tmp_path / "jira.csv"
    path.write_text(JIRA_CSV)

    report = import_file(store, path)

    assert report.written == {}
    assert (
        report.errors[0]
        == "line 2: a Jira issue does not name its repository; pass --repo host/owner/name (`repo` over HTTP); record skipped"
    )


def test_import_missing_file(store, tmp_path):
    with pytest.raises(TrackerError) as caught:
        import_file(store, tmp_path / "nope.json")

    assert "does not exist" in str(caught.value)


def test_import_twice_changes_nothing(widgets, store, tmp_path):
    path = tmp_path / "issues.json"
    path.write_text(json.dumps(gh_issues(), indent=2, sort_keys=True))
    import_file(store, path)
    first = store.get(REPO, "bug", "#3")

    import_file(store, path)

    again = store.get(REPO, "bug", "#3")
    assert again.model_dump() == first.model_dump()
    assert len(store.keys(REPO, "bug")) == 2
