"""Per-file signals mined from history: co-change rules, guarding tests, fragility, owners."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from headstart.context.history import Change, HistoryView
from headstart.records import LinkKind

_TEST_PATH = re.compile(
    r"(^|/)(tests?|spec|__tests__)/|(^|/)test_[^/]+\.py$|_test\.(py|go|rb|exs?)$|"
    r"\.(test|spec)\.[jt]sx?$|Tests?\.(java|kt|cs|swift)$|(^|/)t/.+\.t$"
)
_FIX_SUBJECT = re.compile(r"\b(fix(e[sd])?|bug|hotfix|regression|crash(es)?)\b", re.IGNORECASE)
_REVERT_LINE = re.compile(r"^This reverts commit [0-9a-f]+\.?\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Thresholds:
    """Limits on what history must show before a guardrail is stated."""

    co_change_min_shared: int = 10
    co_change_min_confidence: float = 0.3
    test_min_shared: int = 2
    max_files_per_commit: int = 30


def is_test_file(path: str) -> bool:
    return bool(_TEST_PATH.search(path))


def is_fix(change: Change) -> bool:
    """A commit that fixed a bug: it names an issue or commit it fixes, or says so in its subject."""
    if any(kind in (LinkKind.FIXES.value, LinkKind.FIXES_COMMIT.value) for kind, _ in change.links):
        return True
    return bool(_FIX_SUBJECT.search(change.title)) and not change.title.lower().startswith("revert")


def is_revert(change: Change) -> bool:
    return any(kind == LinkKind.REVERTS.value for kind, _ in change.links)


def revert_reason(revert: Change) -> str:
    """The reason a revert gives: its body without git's boilerplate line, else its subject."""
    reason = " ".join(_REVERT_LINE.sub("", revert.body).split())
    return reason or revert.title


@dataclass(frozen=True)
class CoChangeRule:
    path: str
    partner: str
    together: int
    total: int
    shas: tuple[str, ...]

    @property
    def confidence(self) -> float:
        return self.together / self.total


def co_change_rules(view: HistoryView, path: str, thresholds: Thresholds, *, min_shared: int | None = None) -> list[CoChangeRule]:
    """Files that changed in at least `min_shared` of `path`'s commits and the given share of them."""
    minimum = thresholds.co_change_min_shared if min_shared is None else min_shared
    commits = [c for c in view.commits_touching(path) if len(c.files) <= thresholds.max_files_per_commit]
    partners: Counter[str] = Counter()
    shas: dict[str, list[str]] = {}
    for commit in commits:
        for other in commit.files:
            if other != path:
                partners[other] += 1
                shas.setdefault(other, []).append(commit.key)
    rules = [
        CoChangeRule(path, partner, together, len(commits), tuple(shas[partner][:3]))
        for partner, together in partners.items()
        if together >= minimum and together / len(commits) >= thresholds.co_change_min_confidence and view.exists(partner)
    ]
    return sorted(rules, key=lambda rule: (-rule.confidence, -rule.together, rule.partner))


def time_weight(when: datetime, first: datetime, last: datetime) -> float:
    """Weight a fix by its age: 1/(1+e^(-12t+12)), t the commit's time scaled to [0, 1] over the history.

    This is the time-weighted bug-fix score Google engineers found most useful in practice
    (Lewis et al., "Does bug prediction support human developers?", ICSE 2013): a fix at the
    start of history counts almost nothing, a fix at the indexed head counts 0.5.
    """
    span = (last - first).total_seconds()
    t = 1.0 if span <= 0 else (when - first).total_seconds() / span
    return 1.0 / (1.0 + math.exp(-12.0 * t + 12.0))


@dataclass
class Fragility:
    path: str
    score: float
    fixes: list[Change]
    reverts: list[tuple[Change, Change | None]]  # (revert commit, the commit it reverted)


def fragility(view: HistoryView, path: str) -> Fragility:
    """Bug fixes and reverts of a file, scored so that recent ones count more."""
    first, last = view.first_time, view.last_time
    fixes: list[Change] = []
    reverts: list[tuple[Change, Change | None]] = []
    seen_reverts: set[str] = set()
    for change in view.commits_touching(path):
        if is_revert(change):
            reverted = next(
                (view.change_for_target(target) for kind, target in change.links if kind == LinkKind.REVERTS.value),
                None,
            )
            reverts.append((change, reverted))
            seen_reverts.add(change.key)
        elif is_fix(change):
            fixes.append(change)
        # A commit touching the file that was reverted later counts even if the revert missed the file.
        for kind, source_id in view.incoming.get(f"commit:{change.key}", []):
            source = view.changes[source_id]
            if kind == LinkKind.REVERTS.value and source.key not in seen_reverts:
                reverts.append((source, change))
                seen_reverts.add(source.key)

    score = 0.0
    if first and last:
        score = sum(time_weight(change.created_at, first, last) for change in fixes)
        score += sum(2 * time_weight(revert.created_at, first, last) for revert, _ in reverts)
    return Fragility(path=path, score=score, fixes=fixes, reverts=reverts)


def recent_owners(view: HistoryView, path: str, *, months: int = 12, limit: int = 2) -> list[tuple[str, int]]:
    """The most active authors of a file in the last `months` of history (all history if quieter)."""
    commits = view.commits_touching(path)
    if not commits:
        return []
    cutoff = commits[0].created_at - timedelta(days=30 * months)
    recent = [commit for commit in commits if commit.created_at >= cutoff] or commits
    counts = Counter(commit.authors[0] for commit in recent if commit.authors)
    return counts.most_common(limit)
