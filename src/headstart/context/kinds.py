"""The kind of file a task's commit-type prefix points at: CI configuration, tests or docs.

"CI: add Rack 3.1.x jobs" changes a workflow file, and "test: fix typos in test descriptions"
changes tests, yet neither names a file, and a workflow's own history rarely shares the task's
words. The prefix (`CI:`, `test(router):`, `fix(docs):`) names where the change goes, so the files
of that kind get a ranking of their own in the fusion.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from headstart.records import is_changelog, is_test_file

CI = "ci"
TEST = "test"
DOCS = "docs"

# A conventional-commit type with an optional scope ("fix(docs):"), or a bare scope ("CI:").
_PREFIX = re.compile(r"^\s*([A-Za-z][\w\-]*)(?:\(([^)]*)\))?!?:")
_KINDS = {
    CI: {"ci", "gha", "actions", "workflow", "workflows", "travis", "circleci"},
    TEST: {"test", "tests", "spec", "specs", "testing"},
    DOCS: {"doc", "docs", "documentation", "readme"},
}
_CI_PATH = re.compile(
    r"(^|/)(\.github/workflows|\.circleci|\.buildkite)/"
    r"|(^|/)(\.gitlab-ci\.ya?ml|\.travis\.ya?ml|appveyor\.ya?ml|azure-pipelines\.ya?ml|\.cirrus\.ya?ml|Jenkinsfile)$"
)
_DOC_SUFFIXES = (".md", ".markdown", ".mdx", ".rst", ".txt", ".adoc", ".asciidoc", ".rdoc")
DESCRIPTIONS = {CI: "a CI configuration file", TEST: "a test file", DOCS: "a documentation file"}


def task_kind(task: str) -> str | None:
    """Return the kind of file the task's prefix names (CI, TEST or DOCS), or None."""
    match = _PREFIX.match(task)
    if match is None:
        return None
    words = {match[1].lower()}
    if match[2]:
        words |= {scope.strip().lower() for scope in match[2].split(",")}
    # CI first: "ci(test):" changes the workflow that runs the tests.
    for kind in (CI, TEST, DOCS):
        if words & _KINDS[kind]:
            return kind
    return None


def _is_docs(path: str) -> bool:
    lowered = path.lower()
    if is_changelog(path):
        return False
    return lowered.endswith(_DOC_SUFFIXES) or lowered.startswith(("doc/", "docs/"))


def _is_ci(path: str) -> bool:
    return bool(_CI_PATH.search(path))


MATCHERS: dict[str, Callable[[str], bool]] = {CI: _is_ci, TEST: is_test_file, DOCS: _is_docs}


def rank_kind(
    kind: str, files: set[str] | None, order: list[str], change_count: Callable[[str], int], limit: int
) -> list[str]:
    """Return up to `limit` files of `kind`: as the other rankings placed them, then the most changed.

    `order` is the fused ranking without this one; `files` are the files at the indexed head.
    """
    if not files:
        return []
    matches = MATCHERS[kind]
    position = {path: rank for rank, path in enumerate(order)}
    found = [path for path in files if matches(path)]
    found.sort(key=lambda path: (position.get(path, len(position)), -change_count(path), path))
    return found[:limit]
