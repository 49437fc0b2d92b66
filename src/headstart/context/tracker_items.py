"""Guardrails from trackers: open bugs in the likely files, closed ones with their fix, and what reviewers said.

Tracker text is quoted with `quote_data`, so titles and comments reach the agent as data.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from headstart.context.history import HistoryView
from headstart.context.models import Guardrail
from headstart.context.render import quote_data
from headstart.context.signals import is_test_file
from headstart.records import LinkKind, RecordKind
from headstart.store import Store

_COLUMNS = ["kind", "key", "title", "body", "files", "authors", "created_at", "url", "links", "labels"]
# Views kept at once, so a server indexing many repositories keeps bounded memory.
_CACHE_SIZE = 16
REVIEWS_PER_FILE = 3

# Words of a review comment that rejects or corrects an approach, as opposed to praise or a question.
_CORRECTIVE = re.compile(
    r"\b(instead|don'?t|do not|shouldn'?t|should not|avoid|wrong|breaks?|broken|won'?t work|unsafe|"
    r"not safe|rather than|prefer|must|needs? to|please (?:use|remove|revert|change|drop)|reject)\b"
    r"|```suggestion",
    re.IGNORECASE,
)


@dataclass
class TrackerItem:
    kind: str
    key: str
    title: str
    body: str
    files: list[str]
    authors: list[str]
    created_at: datetime
    url: str | None
    links: list[tuple[str, str]]
    labels: list[str]


@dataclass
class TrackerView:
    bugs: list[TrackerItem] = field(default_factory=list)
    reviews: list[TrackerItem] = field(default_factory=list)


_cache: dict[tuple[str, str], tuple[int, TrackerView]] = {}
_lock = threading.Lock()


def load_tracker_view(store: Store, repo: str) -> TrackerView:
    """Read a repository's bugs and review comments, once per store version."""
    version = store.version()
    key = (store.uri, repo)
    with _lock:
        cached = _cache.get(key)
        if cached and cached[0] == version:
            return cached[1]

    view = TrackerView()
    table = store.columns(repo, _COLUMNS, kinds=[RecordKind.BUG.value, RecordKind.REVIEW_COMMENT.value])
    for row in sorted(table.to_pylist(), key=lambda row: row["created_at"], reverse=True):
        item = TrackerItem(
            kind=row["kind"],
            key=row["key"],
            title=row["title"] or "",
            body=row["body"] or "",
            files=list(row["files"] or []),
            authors=list(row["authors"] or []),
            created_at=row["created_at"],
            url=row["url"],
            links=[(link["kind"], link["target"]) for link in row["links"] or []],
            labels=list(row["labels"] or []),
        )
        (view.bugs if item.kind == RecordKind.BUG.value else view.reviews).append(item)

    with _lock:
        if len(_cache) >= _CACHE_SIZE and key not in _cache:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (version, view)
    return view


def tracker_guardrails(store: Store, view: HistoryView, paths: Sequence[str]) -> list[Guardrail]:
    """Bug and review items about `paths`, each with the tracker key, date and URL as evidence."""
    tracker = load_tracker_view(store, view.repo)
    wanted = list(dict.fromkeys(paths))
    return _bug_items(view, tracker.bugs, wanted) + _review_items(tracker.reviews, wanted)


def _bug_items(view: HistoryView, bugs: Sequence[TrackerItem], paths: Sequence[str]) -> list[Guardrail]:
    items: list[Guardrail] = []
    for bug in bugs:
        fixes = _fixes(view, bug)
        files = list(dict.fromkeys([*bug.files, *(path for fix in fixes for path in fix.files)]))
        touched = [path for path in paths if path in files]
        if not touched:
            continue
        evidence = [_bug_ref(bug), f"{bug.created_at:%Y-%m-%d}", *([bug.url] if bug.url else [])]
        if "closed" not in bug.labels:
            items.append(
                Guardrail(
                    kind="bug",
                    priority="high",
                    message=f"open bug {_bug_ref(bug)} touches `{touched[0]}`: {quote_data(bug.title, 120)}",
                    files=touched,
                    evidence=evidence,
                    source=bug.url or f"bug:{bug.key}",
                    quote=quote_data(bug.body, 240) if bug.body.strip() else None,
                    score=0.9,
                )
            )
        elif fixes and "not_planned" not in bug.labels:
            tests = [path for fix in fixes for path in fix.files if is_test_file(path) and view.exists(path)]
            fixed_by = ", ".join(_change_ref(fix) for fix in fixes[:2])
            message = f"closed bug {_bug_ref(bug)} was fixed by {fixed_by}" + (
                f" with test `{tests[0]}`" if tests else " (no test changed with the fix)"
            )
            items.append(
                Guardrail(
                    kind="bug",
                    priority="medium",
                    message=f"{message}; it touched `{touched[0]}`: {quote_data(bug.title, 100)}",
                    files=[*touched, *tests[:1]],
                    evidence=[*evidence, *(_change_ref(fix) for fix in fixes[:3])],
                    source=bug.url or f"bug:{bug.key}",
                    score=0.6,
                )
            )
    return items


def _fixes(view: HistoryView, bug: TrackerItem) -> list:  # a list of history Changes
    """Commits and pull requests that fixed the bug: its own fixed_by links and those naming it."""
    targets = {f"issue:{bug.key}"}
    if bug.key.startswith("#"):
        targets.add(f"issue:{view.repo.partition('/')[2]}{bug.key}")
    elif "#" in bug.key:
        targets.add(f"issue:#{bug.key.rpartition('#')[2]}")
    change_ids: list[str] = []
    for kind, target in bug.links:
        change = view.change_for_target(target) if kind == LinkKind.FIXED_BY.value else None
        if change is not None:
            change_ids.append(change.id)
    for target in targets:
        change_ids += [change_id for kind, change_id in view.incoming.get(target, []) if kind == LinkKind.FIXES.value]
    return [view.changes[change_id] for change_id in dict.fromkeys(change_ids)]


def _review_items(reviews: Sequence[TrackerItem], paths: Sequence[str]) -> list[Guardrail]:
    items: list[Guardrail] = []
    for path in paths:
        said = [
            review
            for review in reviews
            if path in review.files and ("changes_requested" in review.labels or _CORRECTIVE.search(review.body))
        ]
        for review in said[:REVIEWS_PER_FILE]:
            pull_request = review.key.rpartition("/")[0] or review.key
            author = review.authors[0] if review.authors else "unknown"
            line = next((label.removeprefix("line:") for label in review.labels if label.startswith("line:")), None)
            items.append(
                Guardrail(
                    kind="review",
                    priority="medium",
                    message=f"reviewers said on PR {pull_request} about `{path}`"
                    + (f" line {line}" if line else "")
                    + f" (@{author}): {quote_data(review.body, 200)}",
                    files=[path],
                    evidence=[pull_request, f"{review.created_at:%Y-%m-%d}", *([review.url] if review.url else [])],
                    source=review.url or f"review_comment:{review.key}",
                    score=0.7 if "changes_requested" in review.labels else 0.5,
                )
            )
    return items


def _bug_ref(bug: TrackerItem) -> str:
    return bug.key


def _change_ref(change) -> str:  # noqa: ANN001 - a history Change
    if change.kind == RecordKind.PULL_REQUEST.value:
        return f"PR {change.key}"
    return change.key[:10]
