"""The kind of file a task's commit-type prefix points at: CI configuration, tests or docs.

"CI: add Rack 3.1.x jobs" changes a workflow file, and "test: fix typos in test descriptions"
changes tests, yet neither names a file, and a workflow's own history rarely shares the task's
words. The prefix (`CI:`, `test(router):`, `fix(docs):`) names where the change goes, so the files
of that kind get a ranking of their own in the fusion.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

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
# Only a workflow folder's YAML files run: a CODEOWNERS kept beside them is no CI configuration.
_CI_PATH = re.compile(
    r"(^|/)\.github/workflows/[^/]+\.ya?ml$|(^|/)(\.circleci|\.buildkite)/"
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
    documentation = lowered.endswith(_DOC_SUFFIXES) or lowered.startswith(("doc/", "docs/"))
    return documentation and not is_changelog(path)


def _is_ci(path: str) -> bool:
    return bool(_CI_PATH.search(path))


MATCHERS: dict[str, Callable[[str], bool]] = {CI: _is_ci, TEST: is_test_file, DOCS: _is_docs}


def files_of_kind(kind: str, files: Iterable[str]) -> list[str]:
    """Return the files of `kind` among `files`, sorted."""
    matches = MATCHERS[kind]
    return sorted(path for path in files if matches(path))


def rank_kind(
    found: Sequence[str], position: Mapping[str, int], change_count: Callable[[str], int], limit: int
) -> list[str]:
    """Return up to `limit` of the files `found`: as the other rankings placed them, then the most changed.

    `position` maps each file of the fused ranking, without this one, to its rank.
    """
    placed = sorted((path for path in found if path in position), key=position.__getitem__)
    if len(placed) >= limit:
        return placed[:limit]
    # Most files of a kind are nowhere in the other rankings: only their change counts order them.
    rest = heapq.nsmallest(
        limit - len(placed), (path for path in found if path not in position), key=lambda path: (-change_count(path), path)
    )
    return placed + rest
