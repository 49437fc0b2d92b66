"""Assembling a task brief: likely files, similar past work, fixes and reverts, co-changes."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timezone

from headstart.context.guardrails import guardrails_for, sort_items
from headstart.context.history import Change, HistoryCache, HistoryView
from headstart.context.signals import Thresholds, is_fix
from headstart.context.models import Brief, CoChange, FixOrRevert, Guardrail, LikelyFile, RelatedChange
from headstart.records import Freshness
from headstart.context.ranking import FileEvidence, hit_label, named_files, ordinal, rank_files, reasons
from headstart.context.render import fit_to_budget
from headstart.records import LinkKind, RecordKind, is_changelog
from headstart.store import SearchHit, Store

SIMILAR_LIMIT = 30
FILE_LIMIT = 15
RELATED_LIMIT = 10
FIX_LIMIT = 10
CO_CHANGE_LIMIT = 10
# A changelog guardrail needs this many of the similar changes, and this share of them.
CHANGELOG_MIN_CHANGES = 2
CHANGELOG_MIN_SHARE = 0.2


def new_brief_id() -> str:
    return "hsb_" + secrets.token_hex(8)


def build_brief(
    store: Store,
    cache: HistoryCache,
    repo: str,
    task: str,
    *,
    files: Sequence[str] = (),
    max_tokens: int = 1500,
    freshness: Freshness | None = None,
    output: str = "markdown",
    thresholds: Thresholds | None = None,
) -> Brief:
    """Build a brief for `task` in `repo` that fits `max_tokens` when rendered as `output`."""
    view = cache.get(repo)
    # Only a leading "./" is removed, not the dot of `.github/`. An old name maps to the new one.
    anchors = view.current_files([path.replace("\\", "/").removeprefix("./") for path in files])
    query = task if not anchors else f"{task}\n{' '.join(anchors)}"
    hits = store.search(
        query,
        repo=repo,
        kinds=[RecordKind.PULL_REQUEST.value, RecordKind.COMMIT.value],
        limit=SIMILAR_LIMIT,
    )

    ranked = rank_files(view, task, hits, anchors)
    # Most changes touch the changelog whatever the task, so it does not show where the task's
    # code is and would crowd out the files that do. It becomes a guardrail instead.
    dropped = {path for path, item in ranked if is_changelog(path) and not item.anchor}
    changelogs = [path for path, _ in ranked[:FILE_LIMIT] if path in dropped]
    ranked = [(path, item) for path, item in ranked if path not in dropped]
    likely = [
        LikelyFile(path=path, score=0.0, reasons=_file_reasons(view, path, item, len(hits)), exists=view.exists(path))
        for path, item in ranked[:FILE_LIMIT]
    ]
    top_score = ranked[0][1].score if ranked else 1.0
    for entry, (_, item) in zip(likely, ranked, strict=False):
        entry.score = round(item.score / top_score, 3)

    likely_paths = [entry.path for entry in likely]
    brief = Brief(
        id=new_brief_id(),
        repo=repo,
        task=task,
        generated_at=datetime.now(timezone.utc),
        freshness=freshness or Freshness(),
        likely_files=likely,
        related=_related(view, task, hits, set(likely_paths[:5])),
        fixes_and_reverts=_fixes_and_reverts(view, likely_paths[:8]),
        co_changes=_co_changes(view, likely_paths[:5]),
        guardrails=sort_items(
            guardrails_for(store, view, likely_paths[:5], task, thresholds or Thresholds())
            + _changelog_items(view, changelogs, hits)
        ),
        max_tokens=max_tokens,
    )
    return fit_to_budget(brief, output)


def _file_reasons(view: HistoryView, path: str, item: FileEvidence, similar_count: int) -> list[str]:
    explained = reasons(item, similar_count)
    if item.anchor and not view.exists(path):
        explained.append("a new file: the indexed history has none of it yet")
    return explained


def _changelog_items(view: HistoryView, changelogs: Sequence[str], hits: Sequence[SearchHit]) -> list[Guardrail]:
    """Ask for a changelog entry when enough of the most similar past changes added one."""
    items = []
    for path in changelogs:
        updated = [hit for hit in hits if path in view.current_files(hit.record.files)]
        if len(updated) < CHANGELOG_MIN_CHANGES or len(updated) < CHANGELOG_MIN_SHARE * len(hits):
            continue
        items.append(
            Guardrail(
                kind="co_change",
                priority="medium",
                message=f"update the changelog `{path}`: {len(updated)} of the {len(hits)} "
                "most similar past changes did",
                files=[path],
                evidence=[hit_label(hit) for hit in updated[:5]],
                score=len(updated) / len(hits),
            )
        )
    return items


def _related(view: HistoryView, task: str, hits: Sequence[SearchHit], top_files: set[str]) -> list[RelatedChange]:
    """Similar past changes, a pull request preferred over the commits that landed it."""
    landed_by_pull_request = {
        sha
        for hit in hits
        if hit.record.kind == RecordKind.PULL_REQUEST
        for kind, target in ((link.kind, link.target) for link in hit.record.links)
        if kind == LinkKind.MERGED_AS
        for sha in _landed_commits(view, target.partition(":")[2])
    }
    task_words = {word for word in task.lower().split() if len(word) > 3}
    related: list[RelatedChange] = []
    for hit in hits:
        record = hit.record
        if record.kind == RecordKind.COMMIT and record.key in landed_by_pull_request:
            continue
        # Counted among the listed changes: a commit that landed a listed pull request is skipped.
        place = "most similar" if not related else f"{ordinal(len(related) + 1)} most similar"
        why = [f"the {place} past change to the task, by words and meaning"]
        files = view.current_files(record.files)
        shared = [path for path in files if path in top_files]
        if shared:
            why.append("changed likely file(s): " + ", ".join(shared[:3]))
        common = sorted(task_words & set(record.title.lower().split()))
        if common:
            why.append("shares words: " + ", ".join(common[:5]))
        sha = record.key if record.kind == RecordKind.COMMIT else _merged_sha(record)
        related.append(
            RelatedChange(
                kind=record.kind.value,
                key=record.key,
                sha=sha,
                number=record.number,
                title=record.title,
                date=record.created_at,
                url=record.url,
                why=why,
                files=files[:8],
                missing_files=[path for path in files[:8] if not view.exists(path)],
            )
        )
        if len(related) >= RELATED_LIMIT:
            break
    return related


# How far back `_landed_commits` follows the first branch of a merge, and how many commits of
# the merged branch it collects at most.
MAINLINE_WALK = 500
BRANCH_WALK = 100


def _landed_commits(view: HistoryView, merge_sha: str) -> set[str]:
    """Return the commit that landed a pull request and, for a merge, the commits it merged.

    Those are the commits reachable from the merge's second parent but not from its first. The
    first parent's history is followed for `MAINLINE_WALK` commits only, so a branch that forked
    earlier than that may count a few older mainline commits as its own.
    """
    landed = {merge_sha}
    merge = view.change_for_target(f"commit:{merge_sha}")
    if merge is None or len(merge.parents) < 2:
        return landed

    mainline: set[str] = set()
    sha: str | None = merge.parents[0]
    while sha and len(mainline) < MAINLINE_WALK:
        mainline.add(sha)
        change = view.change_for_target(f"commit:{sha}")
        sha = change.parents[0] if change and change.parents else None

    pending = list(merge.parents[1:])
    while pending and len(landed) <= BRANCH_WALK:
        sha = pending.pop()
        if sha in landed or sha in mainline:
            continue
        landed.add(sha)
        change = view.change_for_target(f"commit:{sha}")
        if change is not None:
            pending.extend(change.parents)
    return landed


def _merged_sha(record) -> str | None:  # noqa: ANN001 - a Record
    for link in record.links:
        if link.kind == LinkKind.MERGED_AS:
            return link.target.partition(":")[2]
    return None


_FIX_KINDS = (LinkKind.FIXES.value, LinkKind.FIXES_COMMIT.value)


def _fixes_and_reverts(view: HistoryView, paths: Sequence[str]) -> list[FixOrRevert]:
    """Commits that fixed an issue or commit, or reverted one, and touched the likely files."""
    found: dict[str, FixOrRevert] = {}
    for path in paths:
        for change in view.commits_touching(path):
            if change.key in found:
                continue
            links = [(kind, target) for kind, target in change.links if kind in _FIX_KINDS or kind == LinkKind.REVERTS.value]
            # A commit that closes a feature request links it as a fix, but it is not one.
            if any(kind in _FIX_KINDS for kind, _ in links) and not is_fix(change):
                links = [(kind, target) for kind, target in links if kind == LinkKind.REVERTS.value]
            if not links:
                continue
            kind, target = links[0]
            found[change.key] = _fix_or_revert(view, change, "revert" if kind == LinkKind.REVERTS.value else "fix", target)
        # Commits reverted later are fragile history too, even if their own message is plain.
        for change in view.commits_touching(path):
            for kind, reverter_id in view.incoming.get(f"commit:{change.key}", []):
                reverter = view.changes[reverter_id]
                if kind == LinkKind.REVERTS.value and reverter.key not in found:
                    found[reverter.key] = _fix_or_revert(view, reverter, "revert", f"commit:{change.key}")
    return sorted(found.values(), key=lambda item: item.date, reverse=True)[:FIX_LIMIT]


def _fix_or_revert(view: HistoryView, change: Change, kind: str, target: str) -> FixOrRevert:
    """Describe a fixing or reverting commit, with up to 8 of its files and those gone since."""
    files = change.files[:8]
    return FixOrRevert(
        kind=kind,
        sha=change.key,
        title=change.title,
        date=change.created_at,
        url=change.url,
        files=files,
        missing_files=[other for other in files if not view.exists(other)],
        target=target,
    )


def _co_changes(view: HistoryView, paths: Sequence[str]) -> list[CoChange]:
    pairs: list[CoChange] = []
    for path in paths:
        total, partners = view.co_changes(path)
        for partner, together in partners.most_common(3):
            if together < 2 or not view.exists(partner):
                continue
            pairs.append(
                CoChange(
                    path=path,
                    with_path=partner,
                    together=together,
                    total=total,
                    confidence=round(together / total, 2),
                )
            )
    pairs.sort(key=lambda pair: (-pair.confidence, -pair.together))
    return pairs[:CO_CHANGE_LIMIT]


__all__ = ["build_brief", "named_files", "new_brief_id"]
