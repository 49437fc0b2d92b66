"""Secrets in commit messages and pull-request text never reach the store."""

from __future__ import annotations

import pytest

from headstart.indexers.pipeline import index_repository
from headstart.indexers.redaction import redact
from headstart.store import Store

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB_TOKEN = "ghp_" + "x1Y2z3" * 6
PRIVATE_KEY_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
PRIVATE_KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{PRIVATE_KEY_BODY}\nVLPHCozMxH2Mo4lgOEePzNm0tRgeLe==\n-----END RSA PRIVATE KEY-----"
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Rotate {AWS_KEY} today", "Rotate [REDACTED:AWS Access Key] today"),
        (f'aws_secret_access_key = "{AWS_SECRET}"', 'aws_secret_access_key = "[REDACTED:AWS Access Key]"'),
        (f"token {GITHUB_TOKEN} leaked", "token [REDACTED:GitHub Token] leaked"),
        (f"key:\n{PRIVATE_KEY}\nafter", "key:\n[REDACTED:Private Key]\nafter"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n\nnext paragraph",
            "[REDACTED:Private Key]\n\nnext paragraph",
        ),
        (
            "clone https://bob:hunter2@git.example.com/repo.git",
            "clone https://bob:[REDACTED:Basic Auth Credentials]@git.example.com/repo.git",
        ),
        (
            "postgres://app:s3cret@db.internal:5432/app",
            "postgres://app:[REDACTED:Basic Auth Credentials]@db.internal:5432/app",
        ),
        ('db_password = "correct horse"', 'db_password = "[REDACTED:Secret Keyword]"'),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
            "jwt [REDACTED:JSON Web Token] end",
        ),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"This reverts commit {SHA}.",
        "Fix the password reset flow in src/auth/PasswordReset.py",
        "Merge pull request #12 from alice/key-rotation",
        "see https://example.com/docs/page#anchor and mailto:ada@example.com",
        "monkeypatch the token parser; the key is optional",
        "",
    ],
)
def test_redact_leaves_plain_text(text: str) -> None:
    assert redact(text) == text


def test_secrets_absent_from_store(git_repo, store: Store) -> None:
    git_repo.commit(
        f"Configure deployment credentials\n\nUse {AWS_KEY} and {GITHUB_TOKEN} for the deploy job.",
        {"deploy.yml": "job: deploy\n"},
    )
    git_repo.commit(
        f"Add the signing service (#31)\n\nThe service signs with this key:\n\n{PRIVATE_KEY}\n\nToken: {GITHUB_TOKEN}",
        {"signing.py": "sign = True\n"},
    )

    report = index_repository(store, git_repo.path, workers=1)

    rows = store.records_table().to_arrow().select(["kind", "title", "body", "text"]).to_pylist()
    assert sorted(row["kind"] for row in rows) == ["commit", "commit", "pull_request"]
    stored = "\n".join(f"{row['title']}\n{row['body']}\n{row['text']}" for row in rows)
    for secret in (AWS_KEY, GITHUB_TOKEN, PRIVATE_KEY_BODY, "BEGIN RSA PRIVATE KEY"):
        assert secret not in stored
    [pull_request] = [row for row in rows if row["kind"] == "pull_request"]
    assert pull_request["body"] == (
        "The service signs with this key:\n\n[REDACTED:Private Key]\n\nToken: [REDACTED:GitHub Token]"
    )

    for query in ("deployment credentials", "signing service key", AWS_KEY, GITHUB_TOKEN):
        hits = store.search(query, repo=report.plan.repo)
        assert hits
        found = "\n".join(f"{hit.record.title}\n{hit.record.body}" for hit in hits)
        for secret in (AWS_KEY, GITHUB_TOKEN, PRIVATE_KEY_BODY):
            assert secret not in found
