"""Guardrails for a set of files, and a check of a planned change against them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from headstart.context.history import HistoryView
from headstart.context.models import CheckResult, Guardrail
from headstart.context.render import quote_data
from headstart.context.rules import codeowners, is_agent_rules, relevant_quotes
from headstart.context.signals import (
    Thresholds,
    co_change_rules,
    fragility,
    is_fix,
    recent_owners,
    revert_reason,
)
from headstart.context.tracker_items import tracker_guardrails
from headstart.records import is_changelog, is_test_file
from headstart.store import Store
from headstart.text import counted

_PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}
_MAX_ACTIVE_OWNERS = 2  # people an owner item names as most active


def co_change_items(store: Store, view: HistoryView, paths: Sequence[str], thresholds: Thresholds) -> list[Guardrail]:
    items: list[Guardrail] = []
    for path in paths:
        for rule in co_change_rules(store, view, path, thresholds):
            if is_test_file(rule.partner):
                continue  # test partners become "run this test" items instead
            items.append(
                Guardrail(
                    kind="co_change",
                    priority="high" if rule.confidence >= 0.6 else "medium",
                    message=f"if you change `{path}`, `{rule.partner}` changed with it in "
                    f"{rule.together} of {counted(rule.total, 'commit')}",
                    files=[path, rule.partner],
                    evidence=[f"{rule.together}/{counted(rule.total, 'commit')}", *(sha[:10] for sha in rule.shas)],
                    score=rule.confidence,
                )
            )
    return items


def test_items(store: Store, view: HistoryView, paths: Sequence[str], thresholds: Thresholds) -> list[Guardrail]:
    """Tests that change with each file, and tests touched by the commits that fixed it."""
    found: dict[str, Guardrail] = {}
    for path in paths:
        if is_test_file(path):
            continue
        for rule in co_change_rules(store, view, path, thresholds, min_shared=thresholds.test_min_shared):
            if is_test_file(rule.partner) and rule.partner not in found:
                found[rule.partner] = Guardrail(
                    kind="test",
                    priority="medium",
                    message=f"run `{rule.partner}`: it changed with `{path}` in {rule.together} of {counted(rule.total, 'commit')}",
                    files=[rule.partner, path],
                    evidence=[f"{rule.together}/{counted(rule.total, 'commit')}", *(sha[:10] for sha in rule.shas)],
                    score=rule.confidence,
                )
        # A sweeping fix (a dependency upgrade that closes an issue) names no test in particular.
        fixes = [
            fix
            for fix in view.commits_touching(path)
            if is_fix(fix) and len(fix.files) <= thresholds.max_files_per_commit
        ][:FIXES_READ_FOR_TESTS]
        for fix in fixes:
            functions = fix.test_functions()
            for test in (other for other in fix.files if is_test_file(other) and view.exists(other)):
                reference = _fix_reference(fix)
                named = [f"{test}::{function}" for function in functions.get(test, [])[:3]]
                target = ", ".join(f"`{name}`" for name in named) or f"`{test}`"
                item = found.get(test)
                if item is None or item.priority != "high":
                    found[test] = Guardrail(
                        kind="test",
                        priority="high",
                        message=f"run {target}: changed by the fix {reference} to `{path}`",
                        files=[test, path],
                        evidence=[fix.key[:10]] + [t.removeprefix("issue:") for _, t in fix.links if t.startswith("issue:")],
                        score=1.0,
                    )
    return list(found.values())


# Only the most recent fixes of a file are read in full, to keep a brief's store reads bounded.
FIXES_READ_FOR_TESTS = 5


def _fix_reference(change) -> str:  # noqa: ANN001 - a history Change
    for kind, target in change.links:
        if target.startswith("issue:"):
            return f"for {target.removeprefix('issue:')} ({change.key[:10]})"
    return f"{change.key[:10]} {quote_data(change.title, 80)}"


def fragile_items(store: Store, view: HistoryView, paths: Sequence[str]) -> list[Guardrail]:
    items: list[Guardrail] = []
    year_ago = (view.last_time or view.first_time) - timedelta(days=365) if view.last_time else None
    for path in paths:
        if is_changelog(path):
            # Every fix adds a changelog line, so a changelog looks fragile without being so.
            continue
        fragile = fragility(store, view, path)
        if fragile.reverts:
            recent = [revert for revert, _ in fragile.reverts if year_ago is None or revert.created_at >= year_ago]
            reasons = "; ".join(quote_data(revert_reason(revert), 120) for revert, _ in fragile.reverts[:3])
            items.append(
                Guardrail(
                    kind="revert",
                    priority="high" if recent else "medium",
                    message=f"`{path}` was reverted {counted(len(fragile.reverts), 'time')}"
                    + (f", {len(recent)} in the last year" if recent else "")
                    + f": {reasons}",
                    files=[path],
                    evidence=[revert.key[:10] for revert, _ in fragile.reverts[:5]],
                    score=fragile.score,
                )
            )
        if fragile.fixes:
            latest = fragile.fixes[0]
            items.append(
                Guardrail(
                    kind="fragile",
                    priority=_fragility_priority(fragile.score),
                    message=f"`{path}` had {counted(len(fragile.fixes), 'bug-fix commit')}, the latest on "
                    f"{latest.created_at:%Y-%m-%d}: {quote_data(latest.title, 100)} "
                    f"(fragility {fragile.score:.2f}: a fix at the indexed head adds 0.5 and a revert 1, "
                    "older ones less)",
                    files=[path],
                    evidence=[fix.key[:10] for fix in fragile.fixes[:5]],
                    score=fragile.score,
                )
            )
    return items


def _fragility_priority(score: float) -> str:
    if score >= 0.5:
        return "high"
    if score >= 0.05:
        return "medium"
    return "low"


def rule_items(view: HistoryView, paths: Sequence[str], task: str) -> list[Guardrail]:
    return [
        Guardrail(
            kind="rule",
            # Agent rules next to the files outrank a contributors' guide or an ADR.
            priority="high" if quote.distance == 0 and is_agent_rules(quote.source) else "medium",
            message=f"rules from `{quote.source}` apply",
            files=list(paths[:3]),
            source=quote.source,
            quote=quote.text,
            evidence=[quote.source],
            score=1.0 / (1 + quote.distance),
        )
        for quote in relevant_quotes(view, list(paths), task)
    ]


def owner_items(store: Store, view: HistoryView, paths: Sequence[str]) -> list[Guardrail]:
    items: list[Guardrail] = []
    for path in paths:
        declared = codeowners(view, path)
        active = recent_owners(store, view, path, limit=_MAX_ACTIVE_OWNERS)
        if not declared and not active:
            continue
        parts = []
        if declared:
            parts.append("CODEOWNERS: " + ", ".join(declared))
        if active:
            parts.append("most active recently: " + ", ".join(f"{who} ({counted(count, 'commit')})" for who, count in active))
        items.append(
            Guardrail(
                kind="owner",
                priority="low",
                message=f"ask about `{path}`: " + "; ".join(parts),
                files=[path],
                evidence=[counted(count, "commit") for _, count in active],
                score=0.1,
            )
        )
    return items


def sort_items(items: list[Guardrail]) -> list[Guardrail]:
    return sorted(items, key=lambda item: (_PRIORITY_ORDER[item.priority], -item.score, item.message))


def guardrails_for(
    store: Store,
    view: HistoryView, paths: Sequence[str], task: str, thresholds: Thresholds
) -> list[Guardrail]:
    """Collect every guardrail for the given files, highest priority first."""
    store.stats.prefetch(view.repo, paths)
    items = (
        co_change_items(store, view, paths, thresholds)
        + test_items(store, view, paths, thresholds)
        + fragile_items(store, view, paths)
        + rule_items(view, paths, task)
        + owner_items(store, view, paths)
        + tracker_guardrails(store, view, paths)
    )
    return sort_items(items)


def check_change(
    store: Store,
    view: HistoryView,
    changed: Sequence[str],
    thresholds: Thresholds,
    *,
    task: str = "",
    limit: int = 50,
    offset: int = 0,
) -> CheckResult:
    """Compare a planned change with history: co-changed files it leaves untouched, tests to run,
    fragile files it touches, rules and owners."""
    changed = [path.replace("\\", "/").removeprefix("./") for path in changed]
    changed_set = set(changed)
    store.stats.prefetch(view.repo, changed)

    missing = [
        item for item in co_change_items(store, view, changed, thresholds) if item.files[1] not in changed_set
    ]
    tests = test_items(store, view, changed, thresholds)
    fragile = fragile_items(store, view, changed)
    rules = rule_items(view, changed, task)
    owners = owner_items(store, view, changed)
    known = tracker_guardrails(store, view, changed)

    # Only a missing co-change can be seen in a diff; tests are listed to run either way.
    unmet = sum(1 for item in missing if item.priority == "high")

    sections = [sort_items(section) for section in (missing, tests, fragile, known, rules, owners)]
    flat = [(index, item) for index, section in enumerate(sections) for item in section]
    page = flat[offset : offset + limit]
    paged = [[item for index, item in page if index == number] for number in range(len(sections))]
    return CheckResult(
        repo=view.repo,
        changed_files=changed,
        missing_co_changes=paged[0],
        tests_to_run=paged[1],
        fragile=paged[2],
        known_issues=paged[3],
        rules=paged[4],
        owners=paged[5],
        unmet_high_priority=unmet,
        offset=offset,
        next_offset=offset + limit if offset + limit < len(flat) else None,
    )
