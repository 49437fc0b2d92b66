"""Per-file signals mined from history: co-change rules, guarding tests, fragility, owners."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from headstart.authors import is_bot
from headstart.context.history import Change, HistoryView
from headstart.store import Store
from headstart.records import LinkKind, is_fix_commit, is_revert_commit, is_test_file

_REVERT_LINE = re.compile(r"^This reverts commit [0-9a-f]+\.?\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Thresholds:
    """Limits on what history must show before a guardrail is stated."""

    co_change_min_shared: int = 10
    co_change_min_confidence: float = 0.3
    test_min_shared: int = 2
    max_files_per_commit: int = 30


def is_fix(change: Change) -> bool:
    """Tell whether a change fixed a bug, reading its body too, which indexing does not pass."""
    return is_fix_commit(change.title, (kind for kind, _ in change.links), change.body)


def is_revert(change: Change) -> bool:
    return is_revert_commit(kind for kind, _ in change.links)


def revert_reason(revert: Change) -> str:
    """Return a revert's stated reason: its body without git's boilerplate line, else its subject."""
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


def co_change_rules(
    store: Store, view: HistoryView, path: str, thresholds: Thresholds, *, min_shared: int | None = None
) -> list[CoChangeRule]:
    """Files that changed in at least `min_shared` of `path`'s commits and the given share of them,
    read from the derived co-change table."""
    minimum = thresholds.co_change_min_shared if min_shared is None else min_shared
    stats = store.stats.file_stats(view.repo, [path])
    total = stats[0].co_commits if stats else 0
    if total == 0:
        return []
    rules = [
        CoChangeRule(path, partner, together, total, tuple(shas))
        for partner, together, shas in store.stats.co_changes(view.repo, path)
        if together >= minimum and together / total >= thresholds.co_change_min_confidence and view.exists(partner)
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


def fragility(store: Store, view: HistoryView, path: str) -> Fragility:
    """Bug fixes and reverts of a file, scored so that recent ones count more.

    Counts and times come from the derived per-file table; titles and revert reasons from the
    history view. A commit touching the file that was reverted later counts as a revert of the
    file even when the revert itself missed it.
    """
    first, last = view.first_time, view.last_time
    stats = store.stats.file_stats(view.repo, [path])
    fix_shas = stats[0].fix_shas if stats else []
    fix_times = stats[0].fix_times if stats else []
    revert_shas = stats[0].revert_shas if stats else []

    # The stats keep the fixes as classified when the store was indexed. Those the current rules
    # leave out, such as "fix typo", are dropped here, so older stores agree with new ones.
    fixes: list[Change] = []
    kept_times = []
    for sha, moment in reversed(list(zip(fix_shas, fix_times, strict=False))):
        change = view.change_for_target(f"commit:{sha}")
        if change is not None and not is_fix(change):
            continue
        kept_times.append(moment)
        if change is not None:
            fixes.append(change)
    reverts: list[tuple[Change, Change | None]] = []
    seen: set[str] = set()
    for sha in reversed(revert_shas):
        revert = view.change_for_target(f"commit:{sha}")
        if revert is None:
            continue
        reverted = next(
            (view.change_for_target(target) for kind, target in revert.links if kind == LinkKind.REVERTS.value),
            None,
        )
        reverts.append((revert, reverted))
        seen.add(revert.key)
    for change in view.commits_touching(path):
        for kind, source_id in view.incoming.get(f"commit:{change.key}", []):
            source = view.changes[source_id]
            if kind == LinkKind.REVERTS.value and source.key not in seen:
                reverts.append((source, change))
                seen.add(source.key)

    score = 0.0
    if first and last:
        score = sum(time_weight(moment, first, last) for moment in kept_times)
        score += sum(2 * time_weight(revert.created_at, first, last) for revert, _ in reverts)
    return Fragility(path=path, score=score, fixes=fixes, reverts=reverts)


def recent_owners(store: Store, view: HistoryView, path: str, *, months: int = 12, limit: int = 2) -> list[tuple[str, int]]:
    """Return the most active people among those who changed a file in the last `months` of
    its history (all of them, if none did).

    Bots (dependabot[bot], renovate) are left out first, because a bot cannot answer questions
    about a file. So a file that only a bot changed lately names the people who changed it before.
    """
    stats = store.stats.file_stats(view.repo, [path])
    if not stats or not stats[0].authors:
        return []
    authors = {name: seen for name, seen in stats[0].authors.items() if not is_bot(name)}
    if not authors:
        return []
    latest = max(last for _, last in authors.values())
    cutoff = latest - 30 * 86400 * months
    recent = {name: count for name, (count, last) in authors.items() if last >= cutoff} or {
        name: count for name, (count, _) in authors.items()
    }
    return sorted(recent.items(), key=lambda item: (-item[1], item[0]))[:limit]
