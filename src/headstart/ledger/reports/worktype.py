"""Decide the type of work a session did: from pull request labels, then prefixes, then files.

The first signal that names a type wins, in this order:
1. a label of the pull request the work landed in (`bug`, `documentation`, `refactoring` …),
   because a reviewer chose it for the whole change;
2. a conventional-commit prefix on the commits' subjects (`feat:`, `fix(api):`, `docs!:` …),
   by majority over the commits;
3. the files touched: only documentation → docs, only tests → test, only build and CI files
   → chore, mostly renames → refactor;
4. a fix subject without a prefix ("Fix crash when …") → bugfix; else feature.

A task's title counts as one more subject.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from headstart.ledger.reports.classes import WorkType
from headstart.records import is_fix_commit, is_test_file

_PREFIX = re.compile(r"^(?P<type>[a-z]+)(?:\([^)]*\))?!?:", re.IGNORECASE)
PREFIXES = {
    "feat": WorkType.FEATURE,
    "feature": WorkType.FEATURE,
    "fix": WorkType.BUGFIX,
    "bugfix": WorkType.BUGFIX,
    "hotfix": WorkType.BUGFIX,
    "perf": WorkType.FEATURE,
    "refactor": WorkType.REFACTOR,
    "style": WorkType.REFACTOR,
    "test": WorkType.TEST,
    "tests": WorkType.TEST,
    "docs": WorkType.DOCS,
    "doc": WorkType.DOCS,
    "chore": WorkType.CHORE,
    "build": WorkType.CHORE,
    "ci": WorkType.CHORE,
    "deps": WorkType.CHORE,
    "revert": WorkType.BUGFIX,
}
# Label names, compared in lower case.
LABELS = {
    "bug": WorkType.BUGFIX,
    "bugfix": WorkType.BUGFIX,
    "fix": WorkType.BUGFIX,
    "defect": WorkType.BUGFIX,
    "regression": WorkType.BUGFIX,
    "feature": WorkType.FEATURE,
    "feat": WorkType.FEATURE,
    "enhancement": WorkType.FEATURE,
    "refactor": WorkType.REFACTOR,
    "refactoring": WorkType.REFACTOR,
    "cleanup": WorkType.REFACTOR,
    "tech-debt": WorkType.REFACTOR,
    "test": WorkType.TEST,
    "tests": WorkType.TEST,
    "testing": WorkType.TEST,
    "docs": WorkType.DOCS,
    "documentation": WorkType.DOCS,
    "chore": WorkType.CHORE,
    "dependencies": WorkType.CHORE,
    "deps": WorkType.CHORE,
    "ci": WorkType.CHORE,
    "build": WorkType.CHORE,
}
_DOC_FILE = re.compile(
    r"(^|/)(docs?|documentation)/|\.(md|rst|adoc|txt)$|(^|/)(README|CHANGELOG|LICENSE)[^/]*$",
    re.IGNORECASE,
)
_CHORE_FILE = re.compile(
    r"(^|/)(\.github|\.gitlab-ci\.yml|\.circleci|Dockerfile|Makefile|pyproject\.toml|setup\.cfg|"
    r"package(-lock)?\.json|yarn\.lock|poetry\.lock|uv\.lock|requirements[^/]*\.txt|go\.(mod|sum)|"
    r"Cargo\.(toml|lock)|\.pre-commit-config\.yaml)",
)


def work_type(
    subjects: Sequence[str],
    labels: Sequence[str] = (),
    files: Sequence[str] = (),
    renamed_share: float = 0.0,
    *,
    move_share: float = 0.5,
    title: str | None = None,
) -> tuple[WorkType, str]:
    """Return the type of work and the signal it was read from, for the reasons shown."""
    if (found := label_type(labels)) is not None:
        kind, label = found
        return kind, f"label {label!r}"

    prefixes = Counter(
        PREFIXES[match["type"].lower()]
        for subject in [*subjects, *([title] if title else [])]
        if (match := _PREFIX.match(subject.strip())) and match["type"].lower() in PREFIXES
    )
    if prefixes:
        kind, _count = max(prefixes.items(), key=lambda item: (item[1], -_order(item[0])))
        return kind, "conventional prefix"

    if files:
        if all(_DOC_FILE.search(path) for path in files):
            return WorkType.DOCS, "only documentation files"
        if all(is_test_file(path) for path in files):
            return WorkType.TEST, "only test files"
        if all(_CHORE_FILE.search(path) for path in files):
            return WorkType.CHORE, "only build and CI files"
        if renamed_share >= move_share:
            return WorkType.REFACTOR, f"{renamed_share:.0%} of files renamed"

    if any(is_fix_commit(subject, ()) for subject in [*subjects, *([title] if title else [])]):
        return WorkType.BUGFIX, "fix subject"
    return WorkType.FEATURE, "no other signal"


def label_type(labels: Sequence[str]) -> tuple[WorkType, str] | None:
    """Return the type the first known label names, and that label; None when none is known."""
    for label in labels:
        if (kind := LABELS.get(label.strip().lower())) is not None:
            return kind, label
    return None


def _order(kind: WorkType) -> int:
    return list(WorkType).index(kind)
